"""How backup data may leave a vault: soft delete and immutability, as the abstract parts of two rows.

``vaults.models`` builds ``Vault`` on ``SoftDeleteSettings`` and ``ProtectedItem`` on ``SoftDeletable``; the fields
and the compare-and-swap moves live here so that the models module keeps to one screenful per row. The rules that
decide when a move is allowed (roles, the 14-180 day range, what immutability holds back) are
``vaults.services.soft_delete``'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StatusMoves(models.Model):
    """Compare-and-swap status changes for a model with a ``status`` field (every row of ``vaults.models`` with
    a status builds on it)."""

    status: Any

    class Meta:
        abstract = True

    def _move(self, sources: Iterable[str], target: str, *, condition: Q | None = None, **fields: Any) -> bool:
        """``condition``: what else the row must hold, checked in the same UPDATE."""
        rows = type(self)._default_manager.filter(pk=self.pk, status__in=list(sources))
        moved = (rows.filter(condition) if condition is not None else rows).update(status=target, **fields)
        if moved:
            self.status = target
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(moved)


class SoftDeleteSettings(models.Model):
    """A vault's soft-delete period and always-on switch, and its immutability."""

    class Immutability(models.TextChoices):
        """As Azure's immutable vault: Enabled already keeps every point until its retention ends but may be turned
        off again; Locked cannot be undone."""

        DISABLED = "disabled", _("Disabled")
        ENABLED = "enabled", _("Enabled")
        LOCKED = "locked", _("Locked")

    SOFT_DELETE_MIN_DAYS = 14
    SOFT_DELETE_MAX_DAYS = 180

    # Delete Backup Data keeps an item's points this many days before the purge removes them.
    soft_delete_enabled = models.BooleanField(default=True)
    soft_delete_days = models.PositiveSmallIntegerField(default=14)
    # Once on, soft delete can be neither turned off nor shortened.
    soft_delete_always_on = models.BooleanField(default=False)
    immutability = models.CharField(max_length=8, choices=Immutability.choices, default=Immutability.DISABLED)

    class Meta:
        abstract = True

    @property
    def is_immutable(self) -> bool:
        """Enabled or Locked: no recovery point is deleted before its retention ends."""
        return self.immutability != self.Immutability.DISABLED

    @property
    def is_immutability_locked(self) -> bool:
        return self.immutability == self.Immutability.LOCKED

    def soft_deleted_until(self) -> datetime | None:
        """When the last of the vault's soft-deleted items is due for purge; None when it holds none (only a soft
        deleted item has a purge date)."""
        return self.protected_items.aggregate(until=Max("purge_after"))["until"]  # type: ignore[attr-defined]

    def soft_delete_refusal(self) -> str:
        """Why soft-deleted data keeps the vault from being deleted, with the date it may be; "" when none does."""
        until = self.soft_deleted_until()
        if until is None:
            return ""
        sooner = ("Soft delete is always-on here, so that data stays until then." if self.soft_delete_always_on else
                  "To delete it sooner, turn soft delete off on CONFIGURE, UNDELETE the items and delete their backup "
                  "data again.")
        return (f"The vault holds soft-deleted backup data until {until:%Y-%m-%d %H:%M} UTC. It can be deleted after "
                f"{until:%Y-%m-%d %H:%M} UTC, once that data is purged and its items are unregistered. {sooner}")

    def change_soft_delete(self, *, enabled: bool, days: int, always_on: bool) -> bool:
        """Save the soft-delete settings unless they weaken an always-on vault's (off, no longer always-on, or a
        shorter period): checked in the UPDATE itself, so a concurrent change cannot slip past it."""
        rows = type(self)._default_manager.filter(pk=self.pk)
        if enabled and always_on:
            rows = rows.filter(Q(soft_delete_always_on=False) | Q(soft_delete_days__lte=days))
        else:
            rows = rows.filter(soft_delete_always_on=False)
        if not rows.update(soft_delete_enabled=enabled, soft_delete_days=days, soft_delete_always_on=always_on):
            return False
        self.soft_delete_enabled, self.soft_delete_days, self.soft_delete_always_on = enabled, days, always_on
        return True

    def change_immutability(self, state: str) -> bool:
        """Disabled and Enabled go either way, or on to Locked; nothing leaves Locked."""
        rows = type(self)._default_manager.filter(pk=self.pk)
        if state != self.Immutability.LOCKED:
            rows = rows.exclude(immutability=self.Immutability.LOCKED)
        if not rows.update(immutability=state):
            return False
        self.immutability = state
        return True


class SoftDeletable(models.Model):
    """A protected item whose backup data was deleted with soft delete on: Soft deleted, its points kept (restorable,
    undeletable) until ``purge_after``, then Purging while the purge removes them for good."""

    status: Any
    Status: Any
    # When the item was soft deleted, and from when the purge may remove its points.
    deleted_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        def _move(self, sources: list[str], target: str, *, condition: Q | None = None, **fields: Any) -> bool: ...

    @property
    def is_soft_deleted(self) -> bool:
        return self.status in (self.Status.SOFT_DELETED, self.Status.PURGING)

    def soft_delete_days_left(self, now: datetime | None = None) -> int:
        """Whole days until the purge may remove the item's data (part of a day counts as a day); 0 once due."""
        if self.purge_after is None:
            return 0
        seconds = (self.purge_after - (now or timezone.now())).total_seconds()
        return max(0, math.ceil(seconds / 86400))

    def soft_delete(self, purge_after: datetime) -> bool:
        """Delete Backup Data with soft delete on: Protection Stopped → Soft deleted, the points kept until
        ``purge_after``. The base snapshots are forgotten (the caller releases them): no backup diffs against them."""
        return self._move([self.Status.STOPPED], self.Status.SOFT_DELETED, deleted_at=timezone.now(),
                          purge_after=purge_after, base_snapshots={})

    def undelete(self, now: datetime) -> bool:
        """UNDELETE: Soft deleted → Protection Stopped with every point, unless the purge's time has come."""
        return self._move([self.Status.SOFT_DELETED], self.Status.STOPPED, condition=Q(purge_after__gt=now),
                          deleted_at=None, purge_after=None)

    def postpone_purge(self, until: datetime) -> bool:
        """An immutable vault keeps the points until their retention ends: the purge waits until ``until`` (a purge
        that was under way when the vault became immutable stops, and the item is Soft deleted again)."""
        return self._move([self.Status.SOFT_DELETED, self.Status.PURGING], self.Status.SOFT_DELETED, purge_after=until)

    def begin_purge(self, now: datetime) -> bool:
        """Soft deleted and due → Purging, after which no undelete wins; a purge that was interrupted is taken up
        again."""
        return (self._move([self.Status.SOFT_DELETED], self.Status.PURGING, condition=Q(purge_after__lte=now))
                or self._move([self.Status.PURGING], self.Status.PURGING))
