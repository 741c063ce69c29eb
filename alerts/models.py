"""Alert rules, channels, the alerts raised, and the messages sent about them.

One ``Rule`` per vault and condition (made with its defaults the first time a vault is evaluated or its ALERTS tab
opens). An ``Alert`` is one condition on one subject (the vault, an item, a job) for as long as it holds: the
database keeps a single active alert per (vault, condition, subject), and the move to Resolved is a
compare-and-swap, so two evaluations never raise it twice nor resolve it twice. A ``Message`` is one notification of
one alert to one channel; its ``DeliveryAttempt`` rows are the delivery log.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Condition(models.TextChoices):
    BACKUP_FAILED = "backup_failed", gettext_lazy("Backup failed")
    MISSED_BACKUP = "missed_backup", gettext_lazy("No successful backup")
    VERIFY_DAMAGE = "verify_damage", gettext_lazy("Verify found damage")
    LONG_RUNNING_JOB = "long_running_job", gettext_lazy("Job running too long")
    STORE_NEARLY_FULL = "store_nearly_full", gettext_lazy("Vault storage nearly full")


class Severity(models.TextChoices):
    CRITICAL = "critical", gettext_lazy("Critical")
    WARNING = "warning", gettext_lazy("Warning")


# Per condition: its severity, what its threshold means (None: it has none), its default, and the allowed range.
CONDITIONS: dict[str, dict] = {
    Condition.BACKUP_FAILED: {"severity": Severity.CRITICAL, "unit": None},
    Condition.MISSED_BACKUP: {"severity": Severity.WARNING, "unit": gettext_lazy("hours"), "default": None,
                              "range": (1, 24 * 60),
                              "help": gettext_lazy("Empty: the item's policy decides (its longest gap between backups, "
                                                   "plus a grace of 2 hours: 26 hours for a daily policy).")},
    Condition.VERIFY_DAMAGE: {"severity": Severity.CRITICAL, "unit": None},
    Condition.LONG_RUNNING_JOB: {"severity": Severity.WARNING, "unit": gettext_lazy("minutes"), "default": 240,
                                 "range": (1, 7 * 24 * 60),
                                 "help": gettext_lazy("A job In Progress for longer than this.")},
    Condition.STORE_NEARLY_FULL: {"severity": Severity.WARNING, "unit": gettext_lazy("percent"), "default": 90,
                                  "range": (1, 100),
                                  "help": gettext_lazy("How full the filesystem holding the vault store may get.")},
}


class Rule(models.Model):
    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="alert_rules")
    condition = models.CharField(max_length=32, choices=Condition.choices)
    enabled = models.BooleanField(default=True)
    # Hours, minutes or percent, by condition (CONDITIONS); None means the condition's default.
    threshold = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["vault", "id"]
        constraints = [models.UniqueConstraint(fields=["vault", "condition"], name="alert_rule_one_per_condition")]

    def __str__(self) -> str:
        return f"{self.vault}: {self.get_condition_display()}"

    @property
    def spec(self) -> dict:
        return CONDITIONS[self.condition]

    @property
    def severity(self) -> str:
        return self.spec["severity"]

    @property
    def severity_label(self) -> str:
        return str(Severity(self.severity).label)

    @property
    def effective_threshold(self) -> int | None:
        return self.threshold if self.threshold is not None else self.spec.get("default")


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", gettext_lazy("Email")
        WEBHOOK = "webhook", gettext_lazy("Webhook")

    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    recipients = models.TextField(blank=True, help_text="email: addresses, one per line or comma-separated")
    url = models.URLField(max_length=500, blank=True)
    # The webhook's signing secret: kept to sign, never rendered back (the page says only that one is set).
    secret = models.CharField(max_length=200, blank=True, editable=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["vault", "name", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} '{self.name}'"

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.replace("\n", ",").split(",") if r.strip()]

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @property
    def target(self) -> str:
        """Where messages go, as the page shows it."""
        return ", ".join(self.recipient_list) if self.kind == self.Kind.EMAIL else self.url


class AlertQuerySet(models.QuerySet):
    def active(self) -> AlertQuerySet:
        return self.filter(status=Alert.Status.ACTIVE)


class Alert(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", gettext_lazy("Active")
        RESOLVED = "resolved", gettext_lazy("Resolved")

    vault = models.ForeignKey("vaults.Vault", on_delete=models.CASCADE, related_name="alerts")
    condition = models.CharField(max_length=32, choices=Condition.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # What the alert is about: "vault", "item:<protected item id>" or "job:<job id>", and how people read it.
    subject_key = models.CharField(max_length=100)
    subject = models.CharField(max_length=300)
    summary = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    raised = models.DateTimeField(default=timezone.now)
    resolved = models.DateTimeField(null=True, blank=True)
    last_notified = models.DateTimeField(null=True, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised", "-id"]
        constraints = [
            # One active alert per condition and subject, whoever evaluates.
            models.UniqueConstraint(fields=["vault", "condition", "subject_key"], condition=Q(status="active"),
                                    name="alert_one_active_per_subject"),
        ]
        indexes = [models.Index(fields=["vault", "status", "raised"], name="alert_vault_status_raised")]

    def __str__(self) -> str:
        return f"{self.get_condition_display()}: {self.subject} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def resolve(self) -> bool:
        """Active -> Resolved; True when this call won the move."""
        now = timezone.now()
        won = Alert.objects.filter(pk=self.pk, status=self.Status.ACTIVE).update(status=self.Status.RESOLVED,
                                                                                 resolved=now) == 1
        if won:
            self.status, self.resolved = self.Status.RESOLVED, now
        return won


# An active alert is sent again to a channel at most this often.
RENOTIFY_AFTER = timedelta(hours=1)


class Message(models.Model):
    class Kind(models.TextChoices):
        RAISED = "raised", gettext_lazy("Raised")
        REMINDER = "reminder", gettext_lazy("Still active")
        RESOLVED = "resolved", gettext_lazy("Resolved")
        TEST = "test", gettext_lazy("Test")

    class State(models.TextChoices):
        PENDING = "pending", gettext_lazy("Sending")
        DELIVERED = "delivered", gettext_lazy("Delivered")
        FAILED = "failed", gettext_lazy("Failed")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="messages")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["alert", "channel", "created"], name="message_alert_channel")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} message to {self.channel}"


class DeliveryAttempt(models.Model):
    """One try at sending a message: the delivery log."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts")
    attempt = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="the webhook's HTTP status")
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.message} #{self.attempt}"

    @property
    def outcome(self) -> str:
        if self.delivered:
            return _("Delivered (HTTP %(code)s)") % {"code": self.status_code} if self.status_code else _("Delivered")
        # The error was worded when the attempt was made, in the language active then (English in the worker).
        return self.error or (f"HTTP {self.status_code}" if self.status_code else _("Failed"))
