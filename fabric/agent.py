"""The VM agent and the backup extension: how a snapshot request travels and how its result comes back.

Install: Update Role with ``ProvisionGuestAgent`` true and a
``ResourceExtensionReference`` to publisher ``Microsoft.Azure.RecoveryServices``,
name ``VMSnapshot`` (Windows) or ``VMSnapshotLinux`` (Linux). A VM whose guest
has no agent refuses it (400 BadRequest).

Request a snapshot: Update Role again with the same reference carrying a
``ResourceExtensionParameterValue`` of Type ``Public`` whose Value is base64
JSON (plain JSON is accepted too)::

    {"taskId": "<unique id chosen by the caller>", "command": "snapshot", "disks": "all"}

A new ``taskId`` starts one snapshot of all the VM's disks, taken together.
Private parameters are accepted and ignored.

Result: the role instance's ``ResourceExtensionStatusList`` holds a
``ResourceExtensionStatus`` with HandlerName
``Microsoft.Azure.RecoveryServices.VMSnapshot[Linux]``; its
``ExtensionSettingStatus`` has Name = taskId, Operation ``Snapshot`` and Status
``transitioning`` -> ``success`` | ``error``. On success, the SubStatus named
``VMSnapshotResult`` has as FormattedMessage/Message a JSON document::

    {"taskId": "...", "consistency": "AppConsistent" | "CrashConsistent",
     "snapshots": [{"disk": "<disk name>", "lun": null | 0.., "mediaLink": "<url>", "snapshot": "<x-ms-snapshot>"}]}

A running VM's agent freezes the guest: AppConsistent. For a stopped VM the
agent cannot run, so the service itself snapshots the disks: CrashConsistent,
reported through the same status.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from datetime import UTC, datetime, timedelta

from fabric.disks import DiskError, DiskStore
from fabric.faults import Faults
from fabric.state import Compute, ServiceError, now_iso

PUBLISHER = "Microsoft.Azure.RecoveryServices"
EXTENSION_NAMES = ("VMSnapshot", "VMSnapshotLinux")
RESULT_SUBSTATUS = "VMSnapshotResult"
_last_snapshot: list[datetime] = [datetime.min.replace(tzinfo=UTC)]


def is_backup_extension(ext: dict) -> bool:
    return ext.get("publisher") == PUBLISHER and ext.get("name") in EXTENSION_NAMES


def handler_name(ext: dict) -> str:
    return f"{ext['publisher']}.{ext['name']}"


def public_config(ext: dict) -> dict:
    for parameter in ext.get("parameters", []):
        if (parameter.get("type") or "Public").lower() != "public":
            continue
        raw = parameter.get("value") or ""
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            raw = base64.b64decode(raw, validate=True).decode()
        try:
            config = json.loads(raw)
        except json.JSONDecodeError:
            raise ServiceError(400, "BadRequest", f"The public configuration of extension '{ext['name']}' is not valid "
                               "JSON.") from None
        if isinstance(config, dict):
            return config
    return {}


def snapshot_id() -> str:
    """A fresh x-ms-snapshot value (the storage service's timestamp form), never repeated."""
    stamp = max(datetime.now(UTC), _last_snapshot[0] + timedelta(microseconds=1))
    _last_snapshot[0] = stamp
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class Agent:
    """Applies extension changes of Update Role and completes snapshot tasks."""

    def __init__(self, compute: Compute, disks: DiskStore, faults: Faults, delay: float) -> None:
        self.compute, self.disks, self.faults, self.delay = compute, disks, faults, delay

    def check_update(self, role: dict, extensions: list[dict] | None) -> None:
        """Refuse before anything changes: a backup extension needs an agent in the guest."""
        if extensions and any(is_backup_extension(ext) for ext in extensions) and not role["agent"]:
            raise ServiceError(400, "BadRequest", f"The VM agent is not installed on role '{role['name']}'. Resource "
                               "extensions need the VM agent: install it in the guest and set ProvisionGuestAgent.")
        for ext in extensions or []:
            if is_backup_extension(ext):
                public_config(ext)

    def apply(self, vm_path: str, role: dict, extensions: list[dict]) -> None:
        """Called when Update Role completes: record the references and start what they ask for."""
        before = {handler_name(ext): ext for ext in role.get("extensions", [])}
        role["extensions"] = extensions
        statuses = role.setdefault("extension_status", {})
        for handler in [name for name in statuses if name not in {handler_name(ext) for ext in extensions}]:
            del statuses[handler]
        if self.faults.affects("agent_unresponsive", vm_path):
            return  # the agent never picks the new configuration up
        for ext in extensions:
            if not is_backup_extension(ext):
                continue
            handler = handler_name(ext)
            config = public_config(ext)
            task = config.get("taskId")
            status = statuses.get(handler)
            if status is None or handler not in before:
                status = statuses[handler] = self._status("Ready", "Enable", "enable", "success",
                                                          "Extension installed and enabled.")
            if task and config.get("command", "snapshot") == "snapshot" and status["setting"]["name"] != task:
                statuses[handler] = self._status("Ready", task, "Snapshot", "transitioning", "Snapshot in progress.")
                self.compute.start_operation(self.delay, lambda h=handler, t=task, r=role, p=vm_path: self._finish(p, r, h, t))

    def resume(self) -> None:
        """After a restart, snapshot requests that were in flight complete as if nothing happened."""
        for sub in self.compute.doc["subscriptions"]:
            for service, _, role in self.compute.all_roles(sub):
                for handler, status in role.get("extension_status", {}).items():
                    setting = status["setting"]
                    if setting["operation"] == "Snapshot" and setting["status"] == "transitioning":
                        self.compute.start_operation(self.delay, lambda h=handler, t=setting["name"], r=role,
                                                     p=f"{service}/{role['name']}": self._finish(p, r, h, t))

    def _finish(self, vm_path: str, role: dict, handler: str, task: str) -> None:
        if self.faults.affects("agent_unresponsive", vm_path) or self.faults.affects("snapshot_hang", vm_path):
            return
        status = role.get("extension_status", {}).get(handler)
        if status is None or status["setting"]["name"] != task:
            return  # superseded by a newer request, or the extension was removed
        consistency = "AppConsistent" if role["power"] == "Started" else "CrashConsistent"
        try:
            snapshots = self.snapshot_disks(role)
        except DiskError as error:
            role["extension_status"][handler] = self._status("Ready", task, "Snapshot", "error",
                                                             f"Snapshot failed: {error.code}: {error.message}")
            return
        result = {"taskId": task, "consistency": consistency, "snapshots": snapshots}
        done = self._status("Ready", task, "Snapshot", "success",
                            f"Snapshot of {len(snapshots)} disks completed ({consistency}).")
        done["setting"]["substatus"] = [{"name": RESULT_SUBSTATUS, "status": "success", "code": 0,
                                         "message": json.dumps(result)}]
        role["extension_status"][handler] = done
        self.compute.changed()

    def snapshot_disks(self, role: dict) -> list[dict]:
        """Snapshot every disk of the VM in one step: no write lands between two of them."""
        disks = [(role["os_disk"], None)] + [(disk, disk["lun"]) for disk in role["data_disks"]]
        blobs = [self.disks.get(disk["blob"]) for disk, _ in disks]  # all found before any is snapshotted
        sid = snapshot_id()
        taken = []
        for (disk, lun), blob in zip(disks, blobs, strict=True):
            blob.snapshot(sid)
            taken.append({"disk": disk["name"], "lun": lun, "mediaLink": f"{self.compute.base_url}/{disk['blob']}",
                          "snapshot": sid})
        return taken

    @staticmethod
    def _status(handler_status: str, name: str, operation: str, status: str, message: str) -> dict:
        return {"status": handler_status, "code": 0, "message": "Plugin enabled",
                "setting": {"name": name, "operation": operation, "status": status, "code": 0 if status != "error" else 1,
                            "message": message, "timestamp": now_iso(), "substatus": []}}
