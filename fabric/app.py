"""The lab fabric as one ASGI application: compute, page blobs, faults and their admin endpoints.

A request whose first path segment names a storage account goes to the
page-blob API; anything under ``/_fabric/`` is administration (faults,
vanishing VMs, health); the rest is the Service Management API. Storage
account names are lowercase letters and digits, subscription ids are GUIDs
(with hyphens), so the two never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fabric import blobs, compute, shapes
from fabric.agent import Agent
from fabric.disks import EXTENT, MAX_SIZE, DiskError, DiskStore
from fabric.faults import Faults
from fabric.state import Compute, ServiceError, now_iso

SAVE_EVERY = 0.5
# How long a request body may pause between two of its pieces. The server waits for as many bytes as the
# Content-Length promised; a client that sends fewer would otherwise hold its request open until it gave up.
BODY_IDLE = 5.0


class BodyStalled(Exception):
    """The client stopped sending before its request body was whole."""


def bounded(receive, idle: float):
    """``receive`` that waits at most ``idle`` seconds for each piece of the request body.

    Only the body is bounded: once it is whole, a response that listens for the client leaving (a long
    streamed read) waits as long as it needs.
    """
    whole = False

    async def receive_body():
        nonlocal whole
        if whole:
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), idle)
        except TimeoutError:
            raise BodyStalled from None
        whole = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_body


class FabricApp:
    """State of one running fabric and the ASGI entry point that serves it."""

    def __init__(self, state_dir: Path, op_delay: float = 0.2, agent_delay: float = 0.3,
                 public_url: str = "http://127.0.0.1:8100", body_idle: float = BODY_IDLE) -> None:
        self.state_dir = state_dir
        self.body_idle = body_idle
        self.compute = Compute.load(state_dir / "compute.json")
        self.compute.base_url = public_url
        self.disks = DiskStore(state_dir / "blobs")
        self.faults = Faults()
        self.op_delay = op_delay
        self.agent = Agent(self.compute, self.disks, self.faults, agent_delay)
        self.agent.resume()
        self._saver: asyncio.Task | None = None

    # --- helpers used by the compute endpoints ----------------------------

    def account_of(self, blob: str) -> dict:
        account = self.compute.accounts().get(blob.split("/", 1)[0])
        if account is None:
            raise ServiceError(400, "BadRequest", f"The storage account of '{blob}' does not exist in this subscription.")
        return account

    def blob_of(self, media_link: str) -> str:
        blob = urlsplit(media_link).path.lstrip("/")
        self.account_of(blob)
        if not self.disks.exists(blob):
            raise ServiceError(400, "BadRequest", f"The blob {media_link} does not exist.")
        return blob

    def disk_rows(self, sub: str) -> list[dict]:
        rows = []
        for svc, dep, role in self.compute.all_roles(sub):
            for disk in [role["os_disk"], *role["data_disks"]]:
                rows.append({**disk, "os": role["os"] if disk is role["os_disk"] else None, "service": svc, "deployment": dep,
                             "role": role["name"], "location": self.account_of(disk["blob"])["location"]})
        rows.extend(self.compute.subscription(sub)["disks"].values())
        return rows

    def build_vm(self, sub: str, svc: dict, parsed: dict) -> dict:
        """A new role from disks (Create Deployment, Add Role): how restore brings a VM back."""
        name = parsed["name"] or ""
        if not name:
            raise ServiceError(400, "BadRequest", "The role name is required.")
        if parsed["os_disk"] is None:
            raise ServiceError(400, "BadRequest", "An OSVirtualHardDisk is required.")
        registry = self.compute.subscription(sub)["disks"]
        in_use = {row["blob"]: row for row in self.disk_rows(sub) if row.get("service")}
        stamp = now_iso().replace("-", "").replace(":", "").replace("T", "").rstrip("Z")

        def attach(disk: dict, index: int, os_disk: bool) -> dict:
            registered = registry.get(disk.get("name") or "")
            if registered is not None:
                blob = registered["blob"]
            elif disk.get("media"):
                blob = urlsplit(disk["media"]).path.lstrip("/")
                if not self.disks.exists(blob):
                    if os_disk:
                        raise ServiceError(400, "BadRequest", f"The OS disk blob {disk['media']} does not exist.")
                    self.account_of(blob)
                    size_gb = max(1, disk.get("size_gb") or 1)
                    if size_gb << 30 > MAX_SIZE:
                        raise ServiceError(400, "BadRequest", f"The LogicalDiskSizeInGB of the data disk {disk['media']} "
                                           f"is {size_gb}; a disk holds at most {MAX_SIZE >> 30} GB.")
                    self.disks.create(blob, size_gb << 30)
            else:
                raise ServiceError(400, "BadRequest", "A disk needs a DiskName of a registered disk or a MediaLink.")
            if blob in in_use:
                holder = in_use[blob]
                raise ServiceError(409, "ConflictError", f"The disk blob {blob} is in use by virtual machine "
                                   f"'{holder['service']}/{holder['role']}'.")
            if self.account_of(blob)["location"] != svc["location"]:
                raise ServiceError(400, "BadRequest", f"The storage account of {blob} is not in the location of hosted "
                                   f"service '{svc['name']}' ({svc['location']}).")
            size = self.disks.get(blob).size
            premium = self.account_of(blob).get("sku", "").startswith("Premium")
            return {"name": registered["name"] if registered else f"{svc['name']}-{name}-{index}-{stamp}",
                    "io_type": "Provisioned" if premium else "Standard",
                    "label": disk.get("label"), "blob": blob, "size_gb": max(1, size >> 30),
                    "host_caching": disk.get("host_caching") or ("ReadWrite" if os_disk else "None"),
                    "source_image": disk.get("source_image"), "lun": disk.get("lun", 0)}

        os_disk = attach(parsed["os_disk"], 0, True)
        data = [attach(disk, index + 1, False) for index, disk in enumerate(parsed["data_disks"] or [])]
        for used in [os_disk, *data]:
            registry.pop(used["name"], None)
        agent = bool(parsed["provision_guest_agent"])
        vm = {"name": name, "size": parsed["size"] or "Small", "os": parsed["os_disk"].get("os") or "Linux",
              "ip": f"10.{len(self.compute.subscription(sub)['services']) % 250}.0.{len(data) + 4}", "power": "Started",
              "agent": agent, "provision_guest_agent": agent, "agent_seen": now_iso(), "os_disk": os_disk, "data_disks": data,
              "extensions": [], "extension_status": {}}
        if parsed["extensions"]:
            self.agent.check_update(vm, parsed["extensions"])
            self.agent.apply(f"{svc['name']}/{name}", vm, parsed["extensions"])
        return vm

    def remove_vm(self, sub: str, service: str, vm: str) -> None:
        """The VM is gone (deleted, or vanished by a fault); its disks stay in storage, as they would."""
        service_name, dep_name, _ = self.compute.find_vm(sub, f"{service}/{vm}")
        deployments = self.compute.service(sub, service_name)["deployments"]
        del deployments[dep_name]["roles"][vm]
        if not deployments[dep_name]["roles"]:
            del deployments[dep_name]
        self.compute.changed()

    # --- ASGI ------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        receive = bounded(receive, self.body_idle)
        try:
            await self.dispatch(scope, receive, send)
        except BodyStalled:
            response = self._stalled(scope)
            await response(scope, receive, send)

    async def dispatch(self, scope, receive, send) -> None:
        scope["fabric"] = self
        path = scope["path"]
        if path.startswith("/_fabric/"):
            response = await self.admin(Request(scope, receive))
            await response(scope, receive, send)
            return
        first = path.lstrip("/").split("/", 1)[0]
        is_blob = first in self.compute.accounts()
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.should_fail("blob" if is_blob else "compute"):
            response = self._injected_failure(is_blob)
        elif is_blob:
            blob = path.lstrip("/")
            if blob.count("/") < 2:
                response = blobs.storage_error(DiskError(400, "InvalidUri", "The requested URI does not represent any "
                                                                            "resource on the server."))
            elif self._leased(scope, blob):
                response = blobs.storage_error(DiskError(412, "LeaseIdMissing", "There is currently a lease on the blob "
                                                                                "and no lease ID was specified in the request."))
            else:
                response = await blobs.handle(Request(scope, receive), self.disks, blob)
        else:
            await compute.routes(scope, receive, send)
            return
        await response(scope, receive, send)

    def _leased(self, scope, blob: str) -> bool:
        """A disk attached to a VM is leased, as in Azure: it cannot be deleted or replaced under the VM."""
        if scope["method"] not in ("PUT", "DELETE") or b"comp=" in scope["query_string"]:
            return False
        if scope["method"] == "DELETE" and b"snapshot=" in scope["query_string"]:
            return False
        return any(disk["blob"] == blob for sub in self.compute.doc["subscriptions"] for _, _, role in self.compute.all_roles(sub)
                   for disk in (role["os_disk"], *role["data_disks"]))

    def _stalled(self, scope) -> Response:
        """400 for a body that stopped short of its Content-Length; the connection closes, since the bytes
        still owed could not be told from the next request."""
        message = f"The request body stopped short of its Content-Length: nothing came for {self.body_idle:g} seconds."
        if scope["path"].lstrip("/").split("/", 1)[0] in self.compute.accounts():
            response = blobs.storage_error(DiskError(400, "InvalidHeaderValue", message,
                                                     ("Content-Length", scope_header(scope, b"content-length"))))
        else:
            response = compute.xml(shapes.error("BadRequest", message), 400)
        response.headers["Connection"] = "close"
        return response

    def _injected_failure(self, is_blob: bool) -> Response:
        status = self.faults.error_status
        if is_blob:
            return blobs.storage_error(DiskError(status, "ServerBusy" if status == 503 else "InternalError",
                                                 "The server is currently unable to receive requests. Please retry your "
                                                 "request." if status == 503 else "The server encountered an internal error."))
        code = "ServiceUnavailable" if status == 503 else "InternalError"
        return compute.xml(shapes.error(code, "The server encountered an internal error. Please retry the request."), status)

    async def admin(self, request: Request) -> Response:
        path = request.url.path
        if path == "/_fabric/health":
            return JSONResponse({"ok": True, "subscriptions": list(self.compute.doc["subscriptions"]),
                                 "state_dir": str(self.state_dir.resolve())})
        if path == "/_fabric/faults":
            if request.method == "DELETE":
                self.faults.__init__()
            elif request.method in ("POST", "PUT"):
                try:
                    self.faults.update(json.loads(await request.body() or b"{}"))
                except (ValueError, TypeError) as problem:
                    return JSONResponse({"error": str(problem)}, status_code=400)
            return JSONResponse(self.faults.as_dict())
        if path == "/_fabric/vanish" and request.method == "POST":
            target = json.loads(await request.body() or b"{}").get("vm", "")
            try:
                for sub in self.compute.doc["subscriptions"]:
                    with contextlib.suppress(ServiceError):
                        self.remove_vm(sub, *target.split("/", 1))
                        return JSONResponse({"vanished": target})
            except TypeError:
                pass
            return JSONResponse({"error": f"no VM {target!r}"}, status_code=404)
        return JSONResponse({"error": "not found"}, status_code=404)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._saver = asyncio.create_task(self._save_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._saver is not None:
                    self._saver.cancel()
                self.compute.tick()
                self.compute.save()
                self.disks.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _save_loop(self) -> None:
        # Operations complete on the next request or here, whichever comes first,
        # and the compute document reaches disk within half a second of a change.
        while True:
            await asyncio.sleep(SAVE_EVERY)
            self.compute.tick()
            if self.compute.dirty:
                self.compute.save()


def scope_header(scope, name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key == name), "")


__all__ = ["EXTENT", "FabricApp"]
