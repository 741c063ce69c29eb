"""What every page of the shell needs: the left navigation, the user's subscriptions and role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.urls import reverse

from portal.access import Role, can_administer, can_operate

# The classic portal listed every service; only Recovery Services works here.
_NAV = (
    ("ALL ITEMS", "portal/icons/all.svg", None),
    ("VIRTUAL MACHINES", "portal/icons/vm.svg", None),
    ("CLOUD SERVICES", "portal/icons/cloud.svg", None),
    ("STORAGE", "portal/icons/storage.svg", None),
    ("RECOVERY SERVICES", "portal/icons/vault.svg", "vaults:list"),
    ("SETTINGS", "portal/icons/settings.svg", None),
)


def role_label(user: AbstractBaseUser | AnonymousUser) -> str:
    if can_administer(user):
        return Role.ADMINISTRATOR
    if can_operate(user):
        return Role.OPERATOR
    return Role.READER


def shell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from vaults.models import Subscription

    return {
        "shell_nav": [
            {"label": label, "icon": icon, "url": reverse(name) if name else None, "selected": name == "vaults:list"}
            for label, icon, name in _NAV
        ],
        "shell_subscriptions": list(Subscription.objects.visible_to(user)),
        "shell_role": role_label(user),
        "can_operate": can_operate(user),
        "can_administer": can_administer(user),
    }
