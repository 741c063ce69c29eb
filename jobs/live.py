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

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs import throughput
from jobs.models import Job, Operation, Status
from portal import events

# Operation -> (what it is doing, what it is called when done): whole phrases, so a language may order them its way.
_PHRASES: dict[str, tuple[Any, Any]] = {
    Operation.DISCOVERY: (gettext_lazy("Discovering virtual machines"), gettext_lazy("Discovery")),
    Operation.REGISTER: (gettext_lazy("Registering"), gettext_lazy("Registration of")),
    Operation.UNREGISTER: (gettext_lazy("Unregistering"), gettext_lazy("Unregistration of")),
    Operation.CONFIGURE_PROTECTION: (gettext_lazy("Configuring protection of"), gettext_lazy("Configuring protection of")),
    Operation.BACKUP: (gettext_lazy("Backing up"), gettext_lazy("Backup of")),
    Operation.RESTORE: (gettext_lazy("Restoring"), gettext_lazy("Restore of")),
    Operation.STOP_PROTECTION: (gettext_lazy("Stopping protection of"), gettext_lazy("Stopping protection of")),
    Operation.DELETE_BACKUP_DATA: (gettext_lazy("Deleting backup data of"), gettext_lazy("Deleting backup data of")),
    Operation.UNDELETE: (gettext_lazy("Undeleting backup data of"), gettext_lazy("Undeleting backup data of")),
    Operation.RETENTION: (gettext_lazy("Applying retention to"), gettext_lazy("Retention of")),
    Operation.VERIFY: (gettext_lazy("Verifying"), gettext_lazy("Verification of")),
    Operation.REPLICATE: (gettext_lazy("Replicating"), gettext_lazy("Replication of")),
    Operation.GARBAGE_COLLECTION: (gettext_lazy("Collecting unused data of"), gettext_lazy("Garbage collection of")),
    Operation.CREATE_VAULT: (gettext_lazy("Creating backup vault"), gettext_lazy("Creation of backup vault")),
    Operation.DELETE_VAULT: (gettext_lazy("Deleting backup vault"), gettext_lazy("Deleting backup vault")),
}

# Status -> the ending sentence, with and without an item (the item sits inside: word order differs by language).
_ENDINGS = {
    Status.COMPLETED: (gettext_lazy("%(done)s '%(item)s' completed"), gettext_lazy("%(done)s completed")),
    Status.COMPLETED_WITH_WARNINGS: (gettext_lazy("%(done)s '%(item)s' completed with warnings"),
                                     gettext_lazy("%(done)s completed with warnings")),
    Status.FAILED: (gettext_lazy("%(done)s '%(item)s' failed"), gettext_lazy("%(done)s failed")),
    Status.CANCELLED: (gettext_lazy("%(done)s '%(item)s' was cancelled"), gettext_lazy("%(done)s was cancelled")),
}

_STATE = {
    Status.NOT_STARTED: "running", Status.IN_PROGRESS: "running", Status.CANCELLING: "running",
    Status.COMPLETED: "succeeded", Status.COMPLETED_WITH_WARNINGS: "warning",
    Status.FAILED: "failed", Status.CANCELLED: "warning",
}


def sentence(job: Job) -> str:
    """The strip's sentence: "Registering 'vm01'…", then "Registration of 'vm01' completed"."""
    doing, done = _PHRASES.get(job.operation, (job.get_operation_display(), job.get_operation_display()))
    item = job.item_name
    if job.status not in _ENDINGS:
        action = _("%(doing)s '%(item)s'") % {"doing": doing, "item": item} if item else str(doing)
        if job.status == Status.CANCELLING:
            return _("Cancelling: %(action)s…") % {"action": f"{action[0].lower()}{action[1:]}"}
        return _("%(action)s…") % {"action": action}
    if job.operation == Operation.DELETE_BACKUP_DATA and job.status == Status.COMPLETED \
            and "Purged after" in job.properties:
        values = {"item": item, "until": job.properties["Purged after"]}
        return (_("Backup data of '%(item)s' soft deleted: it is kept until %(until)s, and UNDELETE brings it back "
                  "until then.") if item else
                _("Backup data soft deleted: it is kept until %(until)s, and UNDELETE brings it back until then.")
                ) % values
    with_item, without_item = _ENDINGS[Status(job.status)]
    text = (with_item if item else without_item) % {"done": done, "item": item}
    if job.status == Status.FAILED and job.error_message:
        text = _("%(outcome)s: %(error)s") % {"outcome": text, "error": job.error_message}
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
        "status_label": str(Status(job.status).label),
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
