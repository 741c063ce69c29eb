"""Job events: one small payload, published after commit on ``job:<id>``, ``vault:<id>`` and ``user:<id>``.

The payload serves two listeners at once: pages that show the job (they use
``job``, ``status`` and re-render from the server) and the notification strip
(it uses ``id``, ``text``, ``state``, ``progress`` and ``url``, the shape of
``window.portal.notify``). Example::

    {"id": "job-12", "job": 12, "user": 3, "vault": 5, "kind": "status",
     "operation": "register", "status": "in_progress", "status_label": "In Progress",
     "item": "vm01", "progress": 40, "state": "running",
     "text": "Registering 'vm01'…", "url": "/jobs/12/", "at": 1764012345.123}

``kind`` is ``status`` (a transition), ``subtask`` or ``progress``. A job that moves bytes adds ``rate``
("112.4 MB/s"), ``eta`` ("about 2 min left") and ``phase``, each empty while unknown.
"""

from __future__ import annotations

import time
from typing import Any

from jobs import throughput
from jobs.models import Job, Operation, Status
from portal import events

# Operation -> (what it is doing, what it is called when done).
_PHRASES: dict[str, tuple[str, str]] = {
    Operation.DISCOVERY: ("Discovering virtual machines", "Discovery"),
    Operation.REGISTER: ("Registering", "Registration of"),
    Operation.UNREGISTER: ("Unregistering", "Unregistration of"),
    Operation.CONFIGURE_PROTECTION: ("Configuring protection of", "Configuring protection of"),
    Operation.BACKUP: ("Backing up", "Backup of"),
    Operation.RESTORE: ("Restoring", "Restore of"),
    Operation.STOP_PROTECTION: ("Stopping protection of", "Stopping protection of"),
    Operation.DELETE_BACKUP_DATA: ("Deleting backup data of", "Deleting backup data of"),
    Operation.UNDELETE: ("Undeleting backup data of", "Undeleting backup data of"),
    Operation.RETENTION: ("Applying retention to", "Retention of"),
    Operation.VERIFY: ("Verifying", "Verification of"),
    Operation.REPLICATE: ("Replicating", "Replication of"),
    Operation.GARBAGE_COLLECTION: ("Collecting unused data of", "Garbage collection of"),
    Operation.CREATE_VAULT: ("Creating backup vault", "Creating backup vault"),
    Operation.DELETE_VAULT: ("Deleting backup vault", "Deleting backup vault"),
}

_ENDINGS = {
    Status.COMPLETED: "completed",
    Status.COMPLETED_WITH_WARNINGS: "completed with warnings",
    Status.FAILED: "failed",
    Status.CANCELLED: "was cancelled",
}

_STATE = {
    Status.NOT_STARTED: "running", Status.IN_PROGRESS: "running", Status.CANCELLING: "running",
    Status.COMPLETED: "succeeded", Status.COMPLETED_WITH_WARNINGS: "warning",
    Status.FAILED: "failed", Status.CANCELLED: "warning",
}


def sentence(job: Job) -> str:
    """The strip's sentence: "Registering 'vm01'…", then "Registration of 'vm01' completed"."""
    doing, done = _PHRASES.get(job.operation, (job.get_operation_display(), job.get_operation_display()))
    subject = f" '{job.item_name}'" if job.item_name else ""
    if job.status == Status.CANCELLING:
        return f"Cancelling: {doing[0].lower()}{doing[1:]}{subject}…"
    if job.status not in _ENDINGS:
        return f"{doing}{subject}…"
    if job.operation == Operation.DELETE_BACKUP_DATA and job.status == Status.COMPLETED \
            and "Purged after" in job.properties:
        return (f"Backup data of{subject} soft deleted: it is kept until {job.properties['Purged after']}, and "
                "UNDELETE brings it back until then.")
    text = f"{done}{subject} {_ENDINGS[Status(job.status)]}"
    if job.status == Status.FAILED and job.error_message:
        text += f": {job.error_message}"
    return text if text.endswith(".") else text + "."


def payload(job: Job, kind: str = "status") -> dict[str, Any]:
    return {
        "id": f"job-{job.pk}",
        "job": job.pk,
        "user": job.requested_by_id,
        "vault": job.vault_id,
        "kind": kind,
        "operation": job.operation,
        "status": job.status,
        "status_label": Status(job.status).label,
        "item": job.item_name,
        "progress": job.progress,
        "state": _STATE[Status(job.status)],
        "text": sentence(job),
        "url": job.get_absolute_url(),
        "at": round(time.time(), 3),
        # "112.4 MB/s", "about 2 min left", "Writing disks": empty while unknown (jobs.throughput).
        **{name: "" for name in ("rate", "eta", "phase")},
        **throughput.figures(job.properties, active=job.is_active),
    }


def channels(job: Job) -> list[str]:
    names = [f"job:{job.pk}"]
    if job.vault_id:
        names.append(f"vault:{job.vault_id}")
    if job.requested_by_id:
        names.append(f"user:{job.requested_by_id}")
    return names


def publish(job: Job, kind: str = "status") -> None:
    """After the current transaction commits (at once outside one)."""
    events.publish(channels(job), "job", payload(job, kind))
