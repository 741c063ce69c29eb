"""Rows as the API's resources (the shapes of ``api.schemas``)."""

from __future__ import annotations

from typing import Any

from jobs.models import Job, OperationLogEntry
from vaults.models import Policy, ProtectedItem, RecoveryPoint, RegisteredItem, Subscription, Vault, VirtualMachine
from vaults.policy import stored

API = "/api/v1"


def job_url(pk: int) -> str:
    return f"{API}/jobs/{pk}"


def accepted(job: Job, item: int | None = None) -> dict:
    return {"id": job.pk, "operation": job.operation, "status": job.status, "url": job_url(job.pk), "item": item}


def subscription(row: Subscription) -> dict:
    return {"id": row.pk, "name": row.name, "subscription_id": row.subscription_id,
            "url": f"{API}/subscriptions/{row.pk}"}


def vault(row: Vault) -> dict:
    return {"id": row.pk, "name": row.name, "subscription": row.subscription_id, "region": row.region,
            "status": row.status, "replication": row.replication, "soft_delete_enabled": row.soft_delete_enabled,
            "soft_delete_days": row.soft_delete_days, "soft_delete_always_on": row.soft_delete_always_on,
            "immutability": row.immutability, "encrypted": bool(row.wrapped_key), "storage_used": row.storage_used,
            "created": row.created, "url": f"{API}/vaults/{row.pk}"}


def vm(row: VirtualMachine) -> dict:
    return {"id": row.pk, "name": row.name, "cloud_service": row.cloud_service, "region": row.region,
            "power_state": row.power_state, "has_agent": row.has_agent}


def registered_item(row: RegisteredItem) -> dict:
    protection = getattr(row, "protection", None)  # the reverse one-to-one raises AttributeError when absent
    return {"id": row.pk, "vm": vm(row.vm), "status": row.status, "error_code": row.error_code,
            "error_message": row.error_message, "recommendation": row.recommendation,
            "protected_item": protection.pk if protection else None, "created": row.created,
            "url": f"{API}/vaults/{row.vault_id}/registered-items/{row.pk}"}


def protected_item(row: ProtectedItem) -> dict:
    points = getattr(row, "point_count", None)
    return {"id": row.pk, "registered_item": row.item_id, "vm": vm(row.item.vm), "status": row.status,
            "status_label": row.get_status_display(), "policy": row.policy_id,
            "last_backup_status": row.last_backup_status, "last_backup_time": row.last_backup_time,
            "error_message": row.error_message,
            "recovery_points": points if points is not None else row.recovery_points.count(),
            "purge_after": row.purge_after, "url": f"{API}/vaults/{row.vault_id}/protected-items/{row.pk}"}


def recovery_point(row: RecoveryPoint) -> dict:
    # The disks' snapshot names and blob addresses stay inside: a client restores by the point's id.
    disks = [{"name": d.get("name"), "lun": d.get("lun"), "size": d.get("size")} for d in row.disks]
    return {"id": row.pk, "created": row.created, "consistency": row.consistency, "adhoc": row.adhoc,
            "expires": row.expires, "logical_bytes": row.logical_bytes, "stored_bytes": row.stored_bytes,
            "disks": disks}


def policy(row: Policy) -> dict:
    definition = stored.policy_to_dict(row.rules)
    count = getattr(row, "vm_count", None)
    return {"id": row.pk, "name": row.name, "schedule": definition["schedule"], "retention": definition["retention"],
            "protected_items": count if count is not None else row.protected_items.count(),
            "url": f"{API}/vaults/{row.vault_id}/policies/{row.pk}"}


def job(row: Job, *, subtasks: bool = False) -> dict:
    data: dict[str, Any] = {
        "id": row.pk, "operation": row.operation, "operation_label": row.get_operation_display(),
        "status": row.status, "status_label": row.get_status_display(), "subscription": row.subscription_id,
        "vault": row.vault_id, "item_type": row.item_type, "item_name": row.item_name,
        "requested_by": row.requested_by.get_username() if row.requested_by else None, "created": row.created,
        "started": row.started, "finished": row.finished,
        "duration_seconds": row.duration.total_seconds() if row.duration is not None else None,
        "progress": row.progress, "cancellable": row.can_cancel, "error_code": row.error_code,
        "error_message": row.error_message, "recommendations": row.recommendations, "properties": row.properties,
        "url": job_url(row.pk)}
    if subtasks:
        data["subtasks"] = [{"name": s.name, "status": s.status, "started": s.started, "finished": s.finished}
                            for s in row.subtasks.all()]
    return data


def log_entry(row: OperationLogEntry) -> dict:
    return {"id": row.pk, "created": row.created, "username": row.username, "operation": row.operation,
            "operation_label": row.operation_label, "subscription": row.subscription_id, "vault": row.vault_id,
            "item_type": row.item_type, "item_name": row.item_name, "job": row.job_id, "details": row.details}

