"""The one refusal hierarchy, and the role checks every service makes.

``Refusal`` (from the jobs app, so ``OperationInProgress`` belongs to it too) carries a code, the sentence the
user reads, and the form field it concerns. ``user=None`` means the service itself acts (the scheduler, a
command run by the machine's operator): no role applies.
"""

from __future__ import annotations

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


def require_operator(user: User, to: str) -> None:
    """Backup Operators and Administrators may ``to`` ("back up virtual machines")."""
    if user is not None and not can_operate(user):
        raise NotAllowed(f"Only Backup Operators and Administrators can {to}.")


def require_administrator(user: User, to: str) -> None:
    """Only Backup Administrators may ``to`` ("delete backup data")."""
    if user is not None and not can_administer(user):
        raise NotAllowed(f"Only Backup Administrators can {to}.")
