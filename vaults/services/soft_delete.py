"""Soft delete and immutability, as Azure's Recovery Services vault has them.

- **Soft delete** (on by default, 14 days, 14-180 configurable): Delete Backup Data (STOP PROTECTION with delete
  data, or DELETE on a stopped item) keeps the item's points, restorable, until its purge date; UNDELETE brings the
  item back as Protection Stopped; the purge, a step of the vault's Retention job, then removes them for good.
  Retention leaves a soft-deleted item's points alone, and their point files keep their chunks from garbage
  collection. An administrator may turn soft delete off (Delete Backup Data is immediate again) unless it is
  **always-on**, which can be neither turned off nor shortened.
- **Immutability** (Disabled, Enabled, Locked; Locked cannot be undone): while Enabled or Locked no recovery point is
  deleted before its retention ends. Delete Backup Data and policy edits that would shorten kept points are refused
  with a sentence; the purge and a re-protection under another policy keep the points until their expiry instead,
  as nobody is there to read a refusal.

Every soft delete, undelete (its job), purge and setting change is in the operations log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from jobs.models import Job, LogAction
from jobs.services import log_operation
from vaults.models import ProtectedItem, RecoveryPoint, User, Vault
from vaults.policy import rules
from vaults.policy.retention import RetentionEngine
from vaults.services.backup import release_snapshots
from vaults.services.refusals import InvalidRequest, NotNow, require_administrator, require_operator
from vaults.services.storage import delete_points


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _log(user: User, action: str, vault: Vault, item: ProtectedItem | None = None, job: Job | None = None,
         **details: object) -> None:
    where = ({"item_type": "vm", "item_key": item.item.item_key, "item_name": item.item.vm.display_name} if item is not None
             else {"item_type": "vault", "item_key": f"vault:{vault.pk}", "item_name": vault.name})
    log_operation(user, action, subscription=vault.subscription_id, vault=vault, job=job, details=details, **where)


# --- The settings on CONFIGURE ------------------------------------------------------------

def set_soft_delete(user: User, vault: Vault, *, enabled: bool, days: int, always_on: bool) -> Vault:
    """SAVE of the Soft delete section: an administrator; 14-180 days; an always-on vault is never weakened."""
    require_administrator(user, "change the soft-delete settings")
    low, high = Vault.SOFT_DELETE_MIN_DAYS, Vault.SOFT_DELETE_MAX_DAYS
    if not low <= days <= high:
        raise InvalidRequest(_("The soft-delete period must be between %(low)s and %(high)s days; %(days)s is not.")
                             % {"low": low, "high": high, "days": days},
                             field="soft_delete_days")
    if always_on and not enabled:
        raise InvalidRequest(_("Always-on soft delete keeps soft delete on: turn soft delete on as well, or leave "
                               "always-on off."), field="soft_delete_always_on")
    before = {"enabled": vault.soft_delete_enabled, "days": vault.soft_delete_days,
              "always_on": vault.soft_delete_always_on}
    after = {"enabled": enabled, "days": days, "always_on": always_on}
    if before == after:
        return vault
    _check_always_on(vault, enabled=enabled, days=days, always_on=always_on)
    with transaction.atomic():
        if not vault.change_soft_delete(enabled=enabled, days=days, always_on=always_on):
            vault.refresh_from_db()  # made always-on meanwhile: say why as if it had been so all along
            _check_always_on(vault, enabled=enabled, days=days, always_on=always_on)
            raise NotNow(_("The soft-delete settings changed meanwhile; reload the page and try again."))
        _log(user, LogAction.UPDATE_SOFT_DELETE, vault, before=before, after=after)
    return vault


def _check_always_on(vault: Vault, *, enabled: bool, days: int, always_on: bool) -> None:
    if not vault.soft_delete_always_on:
        return
    if not (enabled and always_on):
        raise NotNow(_("Soft delete is always-on for vault '%(vault)s': it can no longer be turned off or made "
                       "optional, by anyone.") % {"vault": vault.name}, field="soft_delete_always_on")
    if days < vault.soft_delete_days:
        raise NotNow(_("Soft delete is always-on for vault '%(vault)s': its period cannot be shortened below "
                       "%(days)s days (it may be lengthened).") % {"vault": vault.name, "days": vault.soft_delete_days},
                     field="soft_delete_days")


def set_immutability(user: User, vault: Vault, state: str, *, confirm_lock: bool = False) -> Vault:
    """SAVE of the Immutability section: an administrator; Locked only when confirmed, and never undone."""
    require_administrator(user, "change immutability")
    if state not in Vault.Immutability.values:
        raise InvalidRequest(_("Choose Disabled, Enabled or Locked."), field="immutability")
    if state == vault.immutability:
        return vault
    if vault.is_immutability_locked:
        raise NotNow(_("Immutability of vault '%(vault)s' is locked: it cannot be disabled or unlocked, by anyone.")
                     % {"vault": vault.name},
                     field="immutability")
    if state == Vault.Immutability.LOCKED and not confirm_lock:
        raise InvalidRequest(_("Locking immutability cannot be undone: tick the box that says so, then save."),
                             field="confirm_lock")
    before = vault.immutability
    with transaction.atomic():
        if not vault.change_immutability(state):
            raise NotNow(_("Immutability of vault '%(vault)s' was locked meanwhile: it cannot be disabled or "
                           "unlocked.") % {"vault": vault.name},
                         field="immutability")
        _log(user, LogAction.UPDATE_IMMUTABILITY, vault, before=before, after=state)
    return vault


# --- What immutability holds back ----------------------------------------------------------

def held_points(points: QuerySet[RecoveryPoint], now: datetime | None = None) -> QuerySet[RecoveryPoint]:
    """The points whose retention has not ended. A point without an expiry (made while its item had no policy) has no
    retention for immutability to hold it to."""
    return points.filter(expires__gt=now or timezone.now())


def retention_end(item: ProtectedItem, now: datetime | None = None) -> datetime | None:
    """When the last of the item's points still within retention expires; None when none is."""
    return held_points(item.recovery_points.all(), now).aggregate(end=Max("expires"))["end"]


def deletion_refusal(item: ProtectedItem, now: datetime | None = None) -> str:
    """Why an immutable vault refuses to delete the item's backup data now, or "" when it may."""
    vault = item.vault
    end = retention_end(item, now) if vault.is_immutable else None
    if end is None:
        return ""
    return _("Vault '%(vault)s' is immutable: the recovery points of '%(name)s' cannot be deleted before their "
             "retention ends, the last on %(end)s. Stop protection keeping the data instead; retention removes each "
             "point as it expires, and DELETE is possible once none is left within its retention.") % {
        "vault": vault.name, "name": item.item.vm.display_name, "end": _utc(end)}


def check_deletable(item: ProtectedItem) -> None:
    if refusal := deletion_refusal(item):
        raise NotNow(refusal)


def check_retention_change(vault: Vault, items: Iterable[ProtectedItem], candidate: rules.Policy) -> None:
    """A policy edit in an immutable vault: refused when it would end a kept point sooner than now recorded."""
    if not vault.is_immutable:
        return
    engine = RetentionEngine(candidate)
    points = held_points(RecoveryPoint.objects.filter(protected_item__in=list(items))).order_by("created")
    shortened = [(point, new) for point in points.select_related("protected_item__item__vm")
                 if (new := engine.expiry(point.created, adhoc=point.adhoc)) < point.expires]
    if not shortened:
        return
    point, new = shortened[0]
    raise NotNow(_("Vault '%(vault)s' is immutable: this retention would end %(count)s recovery point(s) sooner than "
                   "they are kept now (the first, %(point)s, is kept until %(kept)s and would go at %(new)s). Keep "
                   "every range at least as long, or make a new policy for other VMs.") % {
        "vault": vault.name, "count": len(shortened), "point": point.label, "kept": _utc(point.expires),
        "new": _utc(new)})


def immutable_floor(items: Iterable[ProtectedItem]) -> set[int]:
    """The ids of ``items`` in an immutable vault: recomputing their points' expiry never brings one forward."""
    return set(ProtectedItem.objects.filter(pk__in=[item.pk for item in items])
               .exclude(vault__immutability=Vault.Immutability.DISABLED).values_list("pk", flat=True))


# --- Soft delete, undelete, purge ----------------------------------------------------------

def soft_delete_item(user: User, item: ProtectedItem, *, job: Job | None = None) -> datetime | None:
    """Delete Backup Data with soft delete on: the item's points are kept until its purge date, which is returned
    (None when the item was soft deleted already: a redelivered job). The base snapshots are released."""
    vault = item.vault
    purge_after = timezone.now() + timedelta(days=vault.soft_delete_days)
    snapshots = item.base_snapshots
    with transaction.atomic():
        if not item.soft_delete(purge_after):
            return None
        _log(user, LogAction.SOFT_DELETE, vault, item, job, purge_after=purge_after.isoformat(),
             recovery_points=item.recovery_points.count())
    if snapshots:
        release_snapshots(vault.subscription.endpoint, snapshots)
    return purge_after


def check_undelete(user: User, item: ProtectedItem, now: datetime | None = None) -> None:
    """UNDELETE: an operator, and an item soft deleted whose purge has not begun."""
    require_operator(user, "undelete backup data")
    name = item.item.vm.display_name
    if item.status == ProtectedItem.Status.PURGING or (item.is_soft_deleted and item.soft_delete_days_left(now) == 0):
        raise NotNow(_("The soft-delete period of '%(name)s' ended on %(end)s: its backup data is being purged and "
                       "can no longer be undeleted.") % {"name": name, "end": _utc(item.purge_after)})
    if not item.is_soft_deleted:
        raise NotNow(_("The backup data of '%(name)s' is not soft deleted: UNDELETE brings back an item whose "
                       "backup data was deleted.") % {"name": name})


def undelete_item(item: ProtectedItem, now: datetime | None = None) -> bool:
    """Soft deleted → Protection Stopped, every point kept. False when the purge has claimed it."""
    return item.undelete(now or timezone.now())


@dataclass
class PurgeReport:
    items: int = 0
    points: int = 0
    postponed: int = 0


def purge_due(vault: Vault, *, job: Job | None = None, now: datetime | None = None) -> PurgeReport:
    """The purge, run by the vault's Retention job: soft-deleted items past their purge date lose their points (rows
    and point files; the chunks go at the next garbage collection) and their row. In an immutable vault an item
    whose points are still within retention waits until the last one expires."""
    now = now or timezone.now()
    report = PurgeReport()
    due = (vault.protected_items.filter(status__in=ProtectedItem.DELETED, purge_after__lte=now)
           .select_related("item__vm", "vault"))
    for item in due:
        end = retention_end(item, now) if vault.is_immutable else None
        if end is not None:
            if item.postpone_purge(end):
                _log(None, LogAction.PURGE, vault, item, job, postponed_until=end.isoformat(),
                     reason="immutable vault: points within retention")
                report.postponed += 1
            continue
        if item.begin_purge(now):
            report.points += _purge(vault, item, job)
            report.items += 1
    return report


def _purge(vault: Vault, item: ProtectedItem, job: Job | None) -> int:
    """Rows first (a point the portal no longer lists is never offered for restore while its file goes), then the
    point files, then the item; a purge interrupted midway is finished by the next run (the item stays Purging)."""
    deleted = delete_points(vault, item.recovery_points.all())
    with transaction.atomic():
        _log(None, LogAction.PURGE, vault, item, job, recovery_points=deleted,
             deleted_at=item.deleted_at.isoformat() if item.deleted_at else "")
        item.delete()
    return deleted
