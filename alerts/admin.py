"""The alerts in Django's admin, read-mostly: a channel's secret is not a field there (it is set on the ALERTS tab)."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert, Channel, DeliveryAttempt, Rule


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("vault", "condition", "enabled", "threshold")
    list_filter = ("condition", "enabled")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("vault", "name", "kind", "enabled", "target")
    list_filter = ("kind", "enabled")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("vault", "condition", "subject", "severity", "status", "raised", "resolved", "last_notified")
    list_filter = ("status", "condition", "severity")
    readonly_fields = ("raised", "resolved", "last_notified")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    list_display = ("at", "message", "attempt", "status_code", "delivered", "error")
    list_filter = ("delivered",)
