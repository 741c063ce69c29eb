"""What every page of the shell needs: the left navigation, the user's subscriptions and role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy

from portal.access import Role, can_administer, can_operate

# The classic portal listed every service; only Recovery Services works here.
_NAV = (
    (gettext_lazy("ALL ITEMS"), "portal/icons/all.svg", None),
    (gettext_lazy("VIRTUAL MACHINES"), "portal/icons/vm.svg", "vaults:machines"),
    (gettext_lazy("CLOUD SERVICES"), "portal/icons/cloud.svg", None),
    (gettext_lazy("STORAGE"), "portal/icons/storage.svg", None),
    (gettext_lazy("RECOVERY SERVICES"), "portal/icons/vault.svg", "vaults:list"),
    (gettext_lazy("SETTINGS"), "portal/icons/settings.svg", None),
)
# The role as the top bar shows it; the group names themselves (Role) stay as stored.
_ROLE_LABELS = {
    Role.ADMINISTRATOR: gettext_lazy("Backup Administrator"),
    Role.OPERATOR: gettext_lazy("Backup Operator"),
    Role.READER: gettext_lazy("Reader"),
}


def role_label(user: AbstractBaseUser | AnonymousUser) -> str:
    if can_administer(user):
        return Role.ADMINISTRATOR
    if can_operate(user):
        return Role.OPERATOR
    return Role.READER


def _nav_selected(request: HttpRequest) -> str:
    """The navigation entry of the page: its own when it has one (VIRTUAL MACHINES), else RECOVERY SERVICES."""
    current = getattr(getattr(request, "resolver_match", None), "view_name", "")
    return current if current in {name for _label, _icon, name in _NAV if name} else "vaults:list"


def shell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from vaults.models import Subscription

    return {
        "shell_nav": [
            {"label": label, "icon": icon, "url": reverse(name) if name else None, "selected": name == _nav_selected(request)}
            for label, icon, name in _NAV
        ],
        "shell_subscriptions": list(Subscription.objects.visible_to(user)),
        "shell_role": _ROLE_LABELS[role_label(user)],
        "can_operate": can_operate(user),
        "can_administer": can_administer(user),
    }
