"""Jobs, their sub-tasks, and the operations log.

A Job is the record of one long operation: the database row is the truth, the
Celery message only a nudge to run it. Status moves only through the
transition methods below, each a compare-and-swap ``UPDATE ... WHERE status IN
(...)`` whose row count says whether this process won the move; two workers,
or a worker and the reconciler, can never both win.

Jobs know vaults and subscriptions only by name (string foreign keys), and the
item a job concerns only by ``item_type`` / ``item_key`` / ``item_name``: the
``item_key`` (e.g. ``"vm:42"``) is what the one-operation-per-item rule is
enforced on, by a partial unique index over the active statuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Operation(models.TextChoices):
    DISCOVERY = "discovery", _("Discovery")
    REGISTER = "register", _("Register")
    UNREGISTER = "unregister", _("Unregister")
    CONFIGURE_PROTECTION = "configure_protection", _("Configure Protection")
    BACKUP = "backup", _("Backup")
    RESTORE = "restore", _("Restore")
    STOP_PROTECTION = "stop_protection", _("Stop Protection")
    DELETE_BACKUP_DATA = "delete_backup_data", _("Delete Backup Data")
    UNDELETE = "undelete", _("Undelete")
    RETENTION = "retention", _("Retention")
    VERIFY = "verify", _("Verify")
    REPLICATE = "replicate", _("Replicate")
    GARBAGE_COLLECTION = "garbage_collection", _("Garbage Collection")
    CREATE_VAULT = "create_vault", _("Create Vault")
    DELETE_VAULT = "delete_vault", _("Delete Vault")


class Status(models.TextChoices):
    NOT_STARTED = "not_started", _("Not Started")
    IN_PROGRESS = "in_progress", _("In Progress")
    CANCELLING = "cancelling", _("Cancelling")
    COMPLETED = "completed", _("Completed")
    COMPLETED_WITH_WARNINGS = "completed_with_warnings", _("Completed With Warnings")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


# Named groups (after netbox's JobStatusChoices): what may still change, and what never will.
ACTIVE = (Status.NOT_STARTED, Status.IN_PROGRESS, Status.CANCELLING)
RUNNING = (Status.IN_PROGRESS, Status.CANCELLING)
TERMINAL = (Status.COMPLETED, Status.COMPLETED_WITH_WARNINGS, Status.FAILED, Status.CANCELLED)
SUCCEEDED = (Status.COMPLETED, Status.COMPLETED_WITH_WARNINGS)
STOPPED = (Status.FAILED, Status.CANCELLED)  # ended without success: their cleanup hook ran
CLEANUP_PENDING = "cleanup_pending"  # in params: what a stopped job's cleanup hook could not undo yet

# The status cell's icon class in table.grid (portal.css).
STATUS_ICON = {
    Status.NOT_STARTED: "running", Status.IN_PROGRESS: "running", Status.CANCELLING: "running",
    Status.COMPLETED: "ok", Status.COMPLETED_WITH_WARNINGS: "warning", Status.FAILED: "error",
    Status.CANCELLED: "warning",
}


class JobQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> JobQuerySet:
        """Jobs of the subscriptions ``user`` belongs to; every view scopes through this."""
        if not user.is_authenticated:
            return self.none()
        subscriptions = Job.subscription.field.related_model.objects.filter(members=user).values_list("pk", flat=True)
        # A literal IN list rather than a join lets SQLite walk the (subscription, created) index.
        return self.filter(subscription_id__in=list(subscriptions))

    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE)


class Job(models.Model):
    operation = models.CharField(max_length=32, choices=Operation.choices)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.NOT_STARTED)
    subscription = models.ForeignKey("vaults.Subscription", on_delete=models.CASCADE, related_name="jobs")
    # History outlives the vault: a deleted vault leaves its jobs readable.
    vault = models.ForeignKey("vaults.Vault", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    item_type = models.CharField(max_length=32)
    item_key = models.CharField(max_length=200)
    item_name = models.CharField(max_length=200)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="jobs")

    task_name = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    cancellable = models.BooleanField(default=True)
    retryable = models.BooleanField(default=False)

    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # Stored when the job ends so that DURATION sorts on an index, not on arithmetic.
    duration = models.DurationField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    # Set while the job is parked: In Progress, waiting on something outside (a snapshot, an extension, an
    # operation), its task sent again to run at this time. A parked job holds no worker slot.
    resume_at = models.DateTimeField(null=True, blank=True)
    enqueued = models.DateTimeField(null=True, blank=True)
    enqueue_count = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    progress = models.PositiveSmallIntegerField(default=0)
    properties = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    log = models.JSONField(default=list, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One operation in flight per item, enforced where two web processes cannot race it.
            models.UniqueConstraint(fields=["item_key"], condition=Q(status__in=ACTIVE), name="job_one_active_per_item"),
        ]
        indexes = [
            models.Index(fields=["subscription", "created"], name="job_sub_created"),
            models.Index(fields=["subscription", "status", "created"], name="job_sub_status_created"),
            models.Index(fields=["subscription", "operation", "created"], name="job_sub_op_created"),
            models.Index(fields=["vault", "created"], name="job_vault_created"),
            models.Index(fields=["requested_by", "status"], name="job_requester_status"),
            models.Index(fields=["status", "heartbeat"], name="job_status_heartbeat"),
            # The API's job list pages by id (keyset): a status or operation filter walks these in id order
            # instead of every job of the subscription (a page of In Progress jobs among 100,000 others).
            models.Index(fields=["subscription", "status", "id"], name="job_sub_status_id"),
            models.Index(fields=["subscription", "operation", "id"], name="job_sub_op_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} '{self.item_name}' ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", args=[self.pk])

    def requester_language(self) -> str:
        """The language the job's stored sentences (error, recommendations) are worded in: the saved choice of the
        user who asked for it (``portal.UserPreference``), else the site's ``LANGUAGE_CODE``. Looked up by name so
        the jobs app does not import the portal's models."""
        if self.requested_by_id:
            try:
                preferences = apps.get_model("portal", "UserPreference")
                language = preferences.objects.filter(user_id=self.requested_by_id).values_list("language",
                                                                                               flat=True).first()
            except (LookupError, FieldError):
                language = None
            if language:
                return language
        return settings.LANGUAGE_CODE

    # --- reading ---------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def can_cancel(self) -> bool:
        return self.cancellable and self.status in (Status.NOT_STARTED, Status.IN_PROGRESS)

    @property
    def status_icon(self) -> str:
        return STATUS_ICON[Status(self.status)]

    @property
    def start_time(self) -> datetime:
        return self.started or self.created

    @property
    def elapsed(self) -> timedelta | None:
        if self.duration is not None:
            return self.duration
        if self.started:
            return timezone.now() - self.started
        return None

    # --- transitions (compare-and-swap) ----------------------------------

    def _move(self, sources: Iterable[str], target: str, **fields: Any) -> bool:
        """Move to ``target`` if the row is still in one of ``sources``; True when this call won."""
        fields["status"] = target
        won = Job.objects.filter(pk=self.pk, status__in=list(sources)).update(**fields) == 1
        if won:
            for name, value in fields.items():
                setattr(self, name, value)
        return won

    def claim(self, worker: str) -> bool:
        now = timezone.now()
        return self._move([Status.NOT_STARTED], Status.IN_PROGRESS, started=now, heartbeat=now, worker=worker)

    def park(self, until: datetime) -> bool:
        """Running → parked until ``until`` (the worker slot is given back; the task is sent again for then).
        The status is left as it is: a cancel asked for meanwhile still stands."""
        moved = Job.objects.filter(pk=self.pk, status__in=RUNNING, resume_at__isnull=True).update(
            resume_at=until, heartbeat=timezone.now())
        if moved:
            self.resume_at = until
        return bool(moved)

    def resume(self, worker: str) -> bool:
        """A parked job's task arrived: one delivery wins it, as ``claim`` does for a new job."""
        moved = Job.objects.filter(pk=self.pk, status__in=RUNNING, resume_at__isnull=False).update(
            resume_at=None, heartbeat=timezone.now(), worker=worker)
        if moved:
            self.resume_at, self.worker = None, worker
            self.refresh_status()
        return bool(moved)

    UNSENT = _("The job service cannot be reached right now, so %(what)s is queued: it starts as soon as the service "
               "answers again. Follow it on the Jobs page.")

    @property
    def is_queued_unsent(self) -> bool:
        """Not Started, and its task could not be sent: the job service (the broker) did not answer."""
        return self.status == Status.NOT_STARTED and self.enqueued is None

    @property
    def is_parked(self) -> bool:
        return self.resume_at is not None and self.status in RUNNING

    def request_cancel(self) -> bool:
        """Not Started ends Cancelled at once (nothing ran); In Progress becomes Cancelling for the runner."""
        if self.status == Status.NOT_STARTED and self._end([Status.NOT_STARTED], Status.CANCELLED):
            return True
        return self._move([Status.IN_PROGRESS], Status.CANCELLING)

    def complete(self, *, warnings: bool = False) -> bool:
        target = Status.COMPLETED_WITH_WARNINGS if warnings else Status.COMPLETED
        return self._end([Status.IN_PROGRESS], target, progress=100)

    def cancelled(self) -> bool:
        return self._end([Status.CANCELLING], Status.CANCELLED)

    def fail(self, code: str, message: str, recommendations: list[str], *, retryable: bool = False,
             sources: Iterable[str] = RUNNING) -> bool:
        # str(): a lazy sentence is worded now, in the language active while the job runs (jobs.runner).
        return self._end(sources, Status.FAILED, error_code=code, error_message=str(message),
                         recommendations=[str(text) for text in recommendations], retryable=retryable)

    def _end(self, sources: Iterable[str], target: str, **fields: Any) -> bool:
        now = timezone.now()
        started = self.started
        return self._move(sources, target, finished=now, duration=(now - started) if started else timedelta(0), **fields)

    def mark_cleanup_pending(self, what: str) -> None:
        """The cleanup hook could not undo everything (``what``, for the log; "" when it did): the reconciler runs
        it again until it can. Kept in ``params`` so the hook's own job types need no column of their own."""
        pending = bool(what)
        if pending == bool(self.params.get(CLEANUP_PENDING)):
            return
        if pending:
            self.params[CLEANUP_PENDING] = what
        else:
            self.params.pop(CLEANUP_PENDING, None)
        Job.objects.filter(pk=self.pk).update(params=self.params)

    def close_subtasks(self, status: str) -> None:
        """End the sub-tasks still open, e.g. Failed when the worker running them died."""
        self.subtasks.filter(status__in=ACTIVE).update(status=status, finished=timezone.now())

    def refresh_status(self) -> str:
        self.status = Job.objects.filter(pk=self.pk).values_list("status", flat=True).first() or self.status
        return self.status


class SubTask(models.Model):
    """A step of a job (a backup: Take Snapshot, Transfer data to vault) with its own status and times."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="subtasks")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.IN_PROGRESS)
    started = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="subtask_position_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def status_icon(self) -> str:
        return STATUS_ICON[Status(self.status)]

    @property
    def duration(self) -> timedelta | None:
        end = self.finished or (timezone.now() if self.status in ACTIVE else None)
        return end - self.started if end else None


class LogAction(models.TextChoices):
    """What the operations log records beyond the job operations themselves."""

    CANCEL_JOB = "cancel_job", _("Cancel Job")
    ADD_POLICY = "add_policy", _("Add Policy")
    UPDATE_POLICY = "update_policy", _("Update Policy")
    DELETE_POLICY = "delete_policy", _("Delete Policy")
    SOFT_DELETE = "soft_delete", _("Soft Delete")
    PURGE = "purge", _("Purge Soft-Deleted Data")
    UPDATE_SOFT_DELETE = "update_soft_delete", _("Update Soft Delete Settings")
    UPDATE_IMMUTABILITY = "update_immutability", _("Update Immutability")
    EXPORT_VAULT_KEY = "export_vault_key", _("Export Vault Key")
    IMPORT_VAULT_KEY = "import_vault_key", _("Import Vault Key")
    CREATE_API_TOKEN = "create_api_token", _("Create Access Token")
    REVOKE_API_TOKEN = "revoke_api_token", _("Revoke Access Token")


class OperationLogEntry(models.Model):
    """Who started what, on which item, when, and the job it made (if any)."""

    created = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="operation_log")
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    operation = models.CharField(max_length=32)
    subscription = models.ForeignKey("vaults.Subscription", on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="operation_log")
    vault = models.ForeignKey("vaults.Vault", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="operation_log")
    item_type = models.CharField(max_length=32, blank=True)
    item_key = models.CharField(max_length=200, blank=True)
    item_name = models.CharField(max_length=200, blank=True)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="log_entries")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "operations log entries"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.username} {self.operation_label} {self.item_name}"

    @property
    def operation_label(self) -> str:
        for choices in (Operation, LogAction):
            if self.operation in choices.values:
                return str(choices(self.operation).label)
        return self.operation
