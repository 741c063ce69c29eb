"""The compute side of the lab: subscriptions, storage accounts, cloud services, VMs, operations.

Everything is plain dicts, saved as one JSON document (``compute.json``) under
the fabric's state directory. The server keeps it in memory and writes it back
shortly after a change; tools that run while no server does (seed) load and
save it directly.

A VM (a *role* in Service Management terms) looks like::

    {"name", "size", "os", "ip", "power": "Started"|"Stopped",
     "agent": bool,                      # a VM agent is installed in the guest
     "provision_guest_agent": bool,
     "subnets": [name],                  # in its deployment's virtual network (``virtual_network`` of the deployment)
     "os_disk": {"name", "label", "blob", "size_gb", "host_caching", "os", "source_image"},
     "data_disks": [{"name", "label", "lun", "blob", "size_gb", "host_caching"}],
     "extensions": [{"reference_name", "publisher", "name", "version", "state", "parameters": [...]}],
     "extension_status": {handler: {...}}}

``blob`` is ``<account>/<container>/<name>``; the MediaLink shown to clients
is the fabric's own URL followed by that path.

A virtual network (``networks`` of a subscription) looks like::

    {"name", "id", "location", "address_prefixes": ["10.1.0.0/16"],
     "subnets": [{"name", "prefix": "10.1.1.0/24"}]}
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

NAMESPACE = "http://schemas.microsoft.com/windowsazure"
LOCATIONS = ("East US", "West US", "North Europe")
KEEP_OPERATIONS = 10_000
DEFAULT_SUBSCRIPTION = "6d1f2c7a-3b4e-4f5a-9c8d-1a2b3c4d5e6f"  # the portal's LAB_SUBSCRIPTION_ID default


class ServiceError(Exception):
    """A refused management request: HTTP status, Azure error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(message: str) -> ServiceError:
    return ServiceError(404, "ResourceNotFound", message)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subnet_address(prefix: str, taken: set[str]) -> str:
    """The first free address of a subnet; Azure keeps its first four (network, gateway, DNS) for itself."""
    for host in itertools.islice(ipaddress.ip_network(prefix).hosts(), 3, None):
        if str(host) not in taken:
            return str(host)
    raise ServiceError(409, "ConflictError", f"The subnet {prefix} has no free address left.")


@dataclass
class Operation:
    id: str
    status: str = "InProgress"  # InProgress | Succeeded | Failed
    http_status: int = 200
    error: tuple[str, str] | None = None
    due: float = 0.0
    role: tuple[str, str, str] | None = None  # (service, deployment, role) it holds exclusively
    action: object = None  # called once when due; may raise ServiceError to fail


@dataclass
class Compute:
    """The compute document and the in-flight operations of one fabric."""

    path: Path
    doc: dict = field(default_factory=lambda: {"subscriptions": {}})
    operations: dict[str, Operation] = field(default_factory=dict)
    dirty: bool = False
    base_url: str = "http://127.0.0.1:8100"  # what MediaLinks start with; the server sets its own

    @classmethod
    def load(cls, path: Path) -> Compute:
        compute = cls(path=path)
        if path.exists():
            compute.doc = json.loads(path.read_text())
        return compute

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(self.doc, handle, separators=(",", ":"))
        os.replace(handle.name, self.path)
        self.dirty = False

    def changed(self) -> None:
        self.dirty = True

    # --- lookups ---------------------------------------------------------

    def subscription(self, sub: str) -> dict:
        try:
            return self.doc["subscriptions"][sub]
        except KeyError:
            # What the real endpoint says when a certificate does not belong to the subscription.
            raise ServiceError(403, "ForbiddenError", "The server failed to authenticate the request. Verify that the "
                               "certificate is valid and is associated with this subscription.") from None

    def service(self, sub: str, name: str) -> dict:
        try:
            return self.subscription(sub)["services"][name]
        except KeyError:
            raise not_found(f"The hosted service '{name}' does not exist.") from None

    def deployment(self, sub: str, service: str, name: str) -> dict:
        try:
            return self.service(sub, service)["deployments"][name]
        except KeyError:
            raise not_found(f"No deployment named '{name}' was found in hosted service '{service}'.") from None

    def role(self, sub: str, service: str, deployment: str, name: str) -> dict:
        try:
            return self.deployment(sub, service, deployment)["roles"][name]
        except KeyError:
            raise not_found(f"The role '{name}' does not exist in deployment '{deployment}'.") from None

    def networks(self, sub: str) -> dict[str, dict]:
        return self.subscription(sub).get("networks", {})  # labs seeded before virtual networks have none

    def network(self, sub: str, name: str) -> dict:
        try:
            return self.networks(sub)[name]
        except KeyError:
            raise ServiceError(400, "BadRequest", f"The virtual network {name} does not exist.") from None

    def accounts(self) -> dict[str, dict]:
        return {name: account for sub in self.doc["subscriptions"].values() for name, account in sub["accounts"].items()}

    def find_vm(self, sub: str, path: str) -> tuple[str, str, dict]:
        """``service/vm`` -> (service, deployment, role)."""
        service, _, vm = path.partition("/")
        for dep_name, dep in self.service(sub, service)["deployments"].items():
            if vm in dep["roles"]:
                return service, dep_name, dep["roles"][vm]
        raise not_found(f"The role '{vm}' does not exist in hosted service '{service}'.")

    def all_roles(self, sub: str):
        for svc_name, svc in self.subscription(sub)["services"].items():
            for dep_name, dep in svc["deployments"].items():
                for role in dep["roles"].values():
                    yield svc_name, dep_name, role

    # --- operations ------------------------------------------------------

    def start_operation(self, delay: float, action=None, role: tuple[str, str, str] | None = None) -> Operation:
        """Record an asynchronous operation; ``role`` is held exclusively until it completes (409 for others)."""
        if role is not None:
            for other in self.operations.values():
                if other.role == role and other.status == "InProgress":
                    raise ServiceError(409, "ConflictError", f"Windows Azure is currently performing an operation with "
                                       f"x-ms-requestid {other.id} on this deployment that requires exclusive access.")
        op = Operation(id=uuid.uuid4().hex, due=time.monotonic() + delay, action=action, role=role)
        self.operations[op.id] = op
        return op

    def tick(self) -> None:
        """Complete operations whose time has come (called before every request)."""
        now = time.monotonic()
        for op in list(self.operations.values()):
            if op.status != "InProgress" or op.due > now:
                continue
            try:
                if op.action is not None:
                    op.action()
                op.status = "Succeeded"
            except ServiceError as error:
                op.status, op.http_status, op.error = "Failed", error.status, (error.code, error.message)
            op.action = None
            self.changed()
        if len(self.operations) > KEEP_OPERATIONS:
            # Finished operations stay answerable for a while, as on the real endpoint, then go.
            for op_id in [op.id for op in self.operations.values() if op.status != "InProgress" and op.due < now - 3600]:
                del self.operations[op_id]

    def operation(self, sub: str, op_id: str) -> Operation:
        self.subscription(sub)
        try:
            return self.operations[op_id]
        except KeyError:
            raise not_found(f"The operation '{op_id}' was not found.") from None
