"""Roles and the rules of who may do what.

Which objects a user can see is a matter of subscription membership (see
``vaults.models.Subscription.objects.visible_to``); what they may do to them is
a matter of role. Roles are Django groups so an administrator can grant them
in the admin like any other permission set.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role:
    ADMINISTRATOR = "Backup Administrator"
    OPERATOR = "Backup Operator"
    READER = "Reader"

    ALL = (ADMINISTRATOR, OPERATOR, READER)


def _groups(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._role_names = cached  # type: ignore[union-attr]
    return cached


def can_administer(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Policies, deleting backup data, deleting vaults."""
    return bool(user.is_authenticated and (user.is_superuser or Role.ADMINISTRATOR in _groups(user)))


def can_operate(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Discover, register, protect, back up, restore. Administrators may too."""
    return can_administer(user) or Role.OPERATOR in _groups(user)
