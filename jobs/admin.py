"""Read-mostly admin views of jobs and the operations log, for operators investigating a problem."""

from __future__ import annotations

from django.contrib import admin

from jobs.models import Job, OperationLogEntry, SubTask


class SubTaskInline(admin.TabularInline):
    model = SubTask
    extra = 0
    readonly_fields = ("position", "name", "status", "started", "finished")
    can_delete = False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "operation", "item_name", "status", "created", "duration", "requested_by", "worker")
    list_filter = ("status", "operation")
    search_fields = ("item_name", "item_key", "error_code")
    readonly_fields = ("heartbeat", "enqueued", "enqueue_count", "attempts", "worker", "log")
    inlines = [SubTaskInline]
    date_hierarchy = "created"


@admin.register(OperationLogEntry)
class OperationLogEntryAdmin(admin.ModelAdmin):
    list_display = ("created", "username", "operation", "item_name", "job")
    list_filter = ("operation",)
    search_fields = ("username", "item_name", "item_key")
    readonly_fields = [field.name for field in OperationLogEntry._meta.fields]
