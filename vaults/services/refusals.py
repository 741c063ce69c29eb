"""The one refusal hierarchy, and the role checks every service makes.

``Refusal`` (from the jobs app, so ``OperationInProgress`` belongs to it too) carries a code, the sentence the
user reads, and the form field it concerns. ``user=None`` means the service itself acts (the scheduler, a
command run by the machine's operator): no role applies.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import OperationInProgress, Refusal
from portal.access import can_administer, can_operate
from vaults.models import User

__all__ = ["InvalidRequest", "NotAllowed", "NotNow", "OperationInProgress", "Refusal", "require_administrator",
           "require_operator"]


class NotAllowed(Refusal):
    """The user's role does not allow this."""

    code = "NotAllowed"


class InvalidRequest(Refusal):
    """What was asked for breaks a documented rule (a name, a region, a policy...)."""

    code = "InvalidRequest"


class NotNow(Refusal):
    """The object is not in a state that allows this now (protected, stopped, not empty...)."""

    code = "InvalidState"


# What callers pass as ``to``, listed so the catalogue holds them: a caller passes the English phrase and the
# refusal looks it up in the active language (a phrase not listed here stays English).
ACTIONS = (
    gettext_noop("create vaults"), gettext_noop("change storage replication"), gettext_noop("delete vaults"),
    gettext_noop("add subscriptions"), gettext_noop("test a subscription's connection"),
    gettext_noop("create policies"), gettext_noop("edit policies"), gettext_noop("delete policies"),
    gettext_noop("restore virtual machines"), gettext_noop("change the soft-delete settings"),
    gettext_noop("change immutability"), gettext_noop("undelete backup data"),
    gettext_noop("protect virtual machines"), gettext_noop("back up virtual machines"),
    gettext_noop("delete backup data"), gettext_noop("stop protection"),
    gettext_noop("export a vault's encryption key"), gettext_noop("import a vault's encryption key"),
    gettext_noop("register virtual machines"), gettext_noop("unregister virtual machines"),
    gettext_noop("discover VMs"), gettext_noop("verify backup data"), gettext_noop("cancel jobs"),
    gettext_noop("change alert rules"), gettext_noop("change alert channels"), gettext_noop("send test messages"),
)


def require_operator(user: User, to: str) -> None:
    """Backup Operators and Administrators may ``to`` ("back up virtual machines")."""
    if user is not None and not can_operate(user):
        raise NotAllowed(_("Only Backup Operators and Administrators can %(action)s.") % {"action": _(to)})


def require_administrator(user: User, to: str) -> None:
    """Only Backup Administrators may ``to`` ("delete backup data")."""
    if user is not None and not can_administer(user):
        raise NotAllowed(_("Only Backup Administrators can %(action)s.") % {"action": _(to)})
