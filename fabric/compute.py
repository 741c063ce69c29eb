"""Service Management endpoints of the lab: hosted services, deployments, roles, disks, virtual networks, operations.

Every request must carry an ``x-ms-version`` from 2009-10-01 to 2015-04-01; every answer carries
``x-ms-request-id``. Asynchronous calls answer 202 at once and complete after
``FabricApp.op_delay`` seconds; ``GET /<sub>/operations/<id>`` reports them.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from fabric import shapes
from fabric.disks import DiskError
from fabric.state import Compute, ServiceError, not_found, now_iso, subnet_address

VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The first and the last version of the Service Management versioning table: the API stopped changing at
# 2015-04-01, so a later date names a version the endpoint never had.
OLDEST_VERSION, NEWEST_VERSION = "2009-10-01", "2015-04-01"
ROLE_OPERATIONS = ("StartRoleOperation", "ShutdownRoleOperation", "RestartRoleOperation")
XML = "application/xml; charset=utf-8"


def version_supported(version: str) -> bool:
    if not VERSION.match(version):
        return False
    try:
        date.fromisoformat(version)
    except ValueError:
        return False
    return OLDEST_VERSION <= version <= NEWEST_VERSION


def xml(body: str, status: int = 200, request_id: str | None = None) -> Response:
    return Response(body, status_code=status, media_type=XML, headers={"x-ms-request-id": request_id or uuid.uuid4().hex})


def accepted(request_id: str) -> Response:
    return Response(b"", status_code=202, headers={"x-ms-request-id": request_id})


def endpoint(handler):
    """Common frame of a management call: version header, due operations, errors as <Error> bodies."""

    async def wrapped(request: Request) -> Response:
        fabric = request.scope["fabric"]
        version = request.headers.get("x-ms-version", "")
        if not version_supported(version):
            return xml(shapes.error("MissingOrIncorrectVersionHeader",
                                    "The versioning header is not specified or was specified incorrectly."), 400)
        fabric.compute.tick()
        try:
            return await handler(request, fabric, fabric.compute, request.path_params["sub"])
        except ServiceError as problem:
            return xml(shapes.error(problem.code, problem.message), problem.status)
        except DiskError as problem:  # a MediaLink that names no valid blob
            return xml(shapes.error("BadRequest", f"{problem.code}: {problem.message}"), 400)

    return wrapped


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


@endpoint
async def list_locations(request, fabric, compute: Compute, sub: str) -> Response:
    compute.subscription(sub)
    return xml(shapes.locations())


@endpoint
async def list_services(request, fabric, compute: Compute, sub: str) -> Response:
    return xml(shapes.hosted_services(base_url(request), sub, compute.subscription(sub)["services"]))


@endpoint
async def list_networks(request, fabric, compute: Compute, sub: str) -> Response:
    return xml(shapes.virtual_network_sites(compute.networks(sub)))


def network_of(compute: Compute, sub: str, svc: dict, network_name: str | None, parsed: dict) -> dict | None:
    """The virtual network a new role joins (its deployment's), checked before anything is built.

    The network must be in the cloud service's region, and the role's subnet (one at most) must be one of its
    subnets; a role of a deployment outside any network names no subnet.
    """
    subnets = parsed["subnets"] or []
    if len(subnets) > 1:
        raise ServiceError(400, "BadRequest", f"The role {parsed['name']} names {len(subnets)} subnets; a virtual machine "
                           "is in one subnet.")
    if not network_name:
        if subnets:
            raise ServiceError(400, "BadRequest", f"The subnet {subnets[0]} was given for role {parsed['name']}, but the "
                               "deployment is not in a virtual network.")
        return None
    network = compute.network(sub, network_name)
    if network["location"] != svc["location"]:
        raise ServiceError(400, "BadRequest", f"The virtual network {network_name} is in {network['location']}, not in the "
                           f"location of hosted service '{svc['name']}' ({svc['location']}).")
    for subnet in subnets:
        if subnet not in {known["name"] for known in network["subnets"]}:
            raise ServiceError(400, "BadRequest", f"The subnet {subnet} does not exist in virtual network {network_name}.")
    return network


def place(compute: Compute, sub: str, vm: dict, network: dict | None, subnets: list[str] | None) -> None:
    """A role in a subnet takes the subnet's first free address, as its DHCP lease would be."""
    vm["subnets"] = list(subnets or [])
    if network is not None and vm["subnets"]:
        prefix = next(known["prefix"] for known in network["subnets"] if known["name"] == vm["subnets"][0])
        vm["ip"] = subnet_address(prefix, {role["ip"] for _, _, role in compute.all_roles(sub)})


@endpoint
async def create_service(request, fabric, compute: Compute, sub: str) -> Response:
    node = shapes.parse(await request.body(), "CreateHostedService")
    name = shapes.text(node, "ServiceName") or ""
    location = shapes.text(node, "Location")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{1,61}[A-Za-z0-9]", name):
        raise ServiceError(400, "BadRequest", f"The hosted service name '{name}' is invalid.")
    if location not in shapes.LOCATIONS:
        raise ServiceError(400, "BadRequest", f"The location '{location}' is not valid.")
    services = compute.subscription(sub)["services"]
    if name in services:
        raise ServiceError(409, "ConflictError", f"The specified DNS name is already taken: {name}.")
    label = shapes.text(node, "Label") or ""
    with contextlib.suppress(ValueError):
        label = shapes.base64.b64decode(label).decode()
    services[name] = {"name": name, "label": label, "description": shapes.text(node, "Description", ""),
                      "location": location, "created": now_iso(), "deployments": {}}
    compute.changed()
    return Response(b"", status_code=201, headers={"x-ms-request-id": uuid.uuid4().hex})


@endpoint
async def delete_service(request, fabric, compute: Compute, sub: str) -> Response:
    """Delete Hosted Service: synchronous, and refused while the service still has a deployment."""
    name = request.path_params["svc"]
    if compute.service(sub, name)["deployments"]:
        raise ServiceError(409, "ConflictError", f"The hosted service '{name}' has a deployment; delete the deployment "
                           "first.")
    del compute.subscription(sub)["services"][name]
    compute.changed()
    return Response(b"", status_code=200, headers={"x-ms-request-id": uuid.uuid4().hex})


@endpoint
async def get_service(request, fabric, compute: Compute, sub: str) -> Response:
    svc = compute.service(sub, request.path_params["svc"])
    detail = request.query_params.get("embed-detail", "false").lower() == "true"
    return xml(shapes.document("HostedService", shapes.hosted_service(base_url(request), sub, svc, detail)))


@endpoint
async def get_deployment(request, fabric, compute: Compute, sub: str) -> Response:
    svc = compute.service(sub, request.path_params["svc"])
    if "slot" in request.path_params:
        dep = next((d for d in svc["deployments"].values() if d.get("slot", "Production").lower()
                    == request.path_params["slot"].lower()), None)
        if dep is None:
            raise not_found("No deployments were found.")
    else:
        dep = compute.deployment(sub, svc["name"], request.path_params["dep"])
    return xml(shapes.deployment(base_url(request), svc, dep, root=True))


@endpoint
async def get_role(request, fabric, compute: Compute, sub: str) -> Response:
    params = request.path_params
    role = compute.role(sub, params["svc"], params["dep"], params["role"])
    return xml(shapes.role(base_url(request), role))


@endpoint
async def update_role(request, fabric, compute: Compute, sub: str) -> Response:
    params = request.path_params
    role = compute.role(sub, params["svc"], params["dep"], params["role"])
    update = shapes.parse_role(shapes.parse(await request.body(), "PersistentVMRole"))
    fabric.agent.check_update(role, update["extensions"])
    op = compute.start_operation(fabric.op_delay, role=(params["svc"], params["dep"], params["role"]))
    if update["provision_guest_agent"] is not None:
        role["provision_guest_agent"] = update["provision_guest_agent"]
    if update["size"]:
        role["size"] = update["size"]
    if update["extensions"] is not None:
        fabric.agent.apply(f"{params['svc']}/{params['role']}", role, update["extensions"])
    compute.changed()
    return accepted(op.id)


@endpoint
async def delete_role(request, fabric, compute: Compute, sub: str) -> Response:
    params = request.path_params
    compute.role(sub, params["svc"], params["dep"], params["role"])
    op = compute.start_operation(fabric.op_delay, role=(params["svc"], params["dep"], params["role"]))
    fabric.remove_vm(sub, params["svc"], params["role"])
    return accepted(op.id)


@endpoint
async def role_operation(request, fabric, compute: Compute, sub: str) -> Response:
    params = request.path_params
    role = compute.role(sub, params["svc"], params["dep"], params["role"])
    node = shapes.parse(await request.body(), ROLE_OPERATIONS)
    kind = node.tag.rsplit("}", 1)[-1]
    if shapes.text(node, "OperationType", kind) != kind:
        raise ServiceError(400, "BadRequest", f"The operation type '{shapes.text(node, 'OperationType')}' does not match "
                           f"the element '{kind}'.")
    power = "Stopped" if kind == "ShutdownRoleOperation" else "Started"

    def done() -> None:
        role["power"] = power
        role["deallocated"] = power == "Stopped" and shapes.text(node, "PostShutdownAction") == "StoppedDeallocated"
        role["agent_seen"] = now_iso()

    op = compute.start_operation(fabric.op_delay, done, role=(params["svc"], params["dep"], params["role"]))
    return accepted(op.id)


@endpoint
async def create_deployment(request, fabric, compute: Compute, sub: str) -> Response:
    svc = compute.service(sub, request.path_params["svc"])
    node = shapes.parse(await request.body(), "Deployment")
    name = shapes.text(node, "Name") or ""
    slot = shapes.text(node, "DeploymentSlot", "Production")
    if not name:
        raise ServiceError(400, "BadRequest", "The deployment name is required.")
    if svc["deployments"]:
        raise ServiceError(409, "ConflictError", f"The deployment slot '{slot}' of hosted service '{svc['name']}' is "
                           "already occupied.")
    roles = [shapes.parse_role(role) for role in node.findall("a:RoleList/a:Role", shapes.NS)]
    if len(roles) != 1:
        raise ServiceError(400, "BadRequest", "A virtual machine deployment holds exactly one role when it is created.")
    network_name = shapes.text(node, "VirtualNetworkName")
    network = network_of(compute, sub, svc, network_name, roles[0])
    vm = fabric.build_vm(sub, svc, roles[0])
    place(compute, sub, vm, network, roles[0]["subnets"])
    stamp = now_iso()
    svc["deployments"][name] = {"name": name, "slot": slot, "label": shapes.text(node, "Label", name),
                                "private_id": uuid.uuid4().hex, "created": stamp, "roles": {vm["name"]: vm},
                                "virtual_network": network_name or None}
    compute.changed()
    op = compute.start_operation(fabric.op_delay, role=(svc["name"], name, vm["name"]))
    return accepted(op.id)


@endpoint
async def add_role(request, fabric, compute: Compute, sub: str) -> Response:
    params = request.path_params
    svc = compute.service(sub, params["svc"])
    dep = compute.deployment(sub, params["svc"], params["dep"])
    parsed = shapes.parse_role(shapes.parse(await request.body(), "PersistentVMRole"))
    if parsed["name"] in dep["roles"]:
        raise ServiceError(409, "ConflictError", f"A role named '{parsed['name']}' already exists in the deployment.")
    network = network_of(compute, sub, svc, dep.get("virtual_network"), parsed)
    vm = fabric.build_vm(sub, svc, parsed)
    place(compute, sub, vm, network, parsed["subnets"])
    dep["roles"][vm["name"]] = vm
    compute.changed()
    op = compute.start_operation(fabric.op_delay, role=(svc["name"], dep["name"], vm["name"]))
    return accepted(op.id)


@endpoint
async def list_disks(request, fabric, compute: Compute, sub: str) -> Response:
    return xml(shapes.disks(base_url(request), fabric.disk_rows(sub)))


@endpoint
async def add_disk(request, fabric, compute: Compute, sub: str) -> Response:
    node = shapes.parse(await request.body(), "Disk")
    name, media = shapes.text(node, "Name"), shapes.text(node, "MediaLink")
    if not name or not media:
        raise ServiceError(400, "BadRequest", "A disk needs a Name and a MediaLink.")
    registry = compute.subscription(sub)["disks"]
    if name in registry or any(row["name"] == name for row in fabric.disk_rows(sub)):
        raise ServiceError(409, "ConflictError", f"A disk with name {name} already exists.")
    blob = fabric.blob_of(media)
    size = fabric.disks.get(blob).size
    registry[name] = {"name": name, "blob": blob, "os": shapes.text(node, "OS"), "label": shapes.text(node, "Label"),
                      "size_gb": max(1, size >> 30), "location": fabric.account_of(blob)["location"]}
    compute.changed()
    return xml("", 200)


@endpoint
async def delete_disk(request, fabric, compute: Compute, sub: str) -> Response:
    registry = compute.subscription(sub)["disks"]
    if registry.pop(request.path_params["name"], None) is None:
        raise not_found(f"The disk '{request.path_params['name']}' does not exist or is attached to a virtual machine.")
    compute.changed()
    return xml("", 200)


@endpoint
async def get_operation(request, fabric, compute: Compute, sub: str) -> Response:
    op = compute.operation(sub, request.path_params["op"])
    return xml(shapes.operation(op), request_id=op.id)


async def unknown(scope, receive, send) -> None:
    response = xml(shapes.error("ResourceNotFound", "The requested resource does not exist."), 404)
    await response(scope, receive, send)


SVC = "/{sub}/services/hostedservices/{svc}"
DEP = SVC + "/deployments/{dep}"
routes = Router(routes=[
    Route("/{sub}/locations", list_locations, methods=["GET"]),
    Route("/{sub}/services/hostedservices", list_services, methods=["GET"]),
    Route("/{sub}/services/networking/virtualnetwork", list_networks, methods=["GET"]),
    Route("/{sub}/services/hostedservices", create_service, methods=["POST"]),
    Route(SVC, get_service, methods=["GET"]),
    Route(SVC, delete_service, methods=["DELETE"]),
    Route(SVC + "/deployments", create_deployment, methods=["POST"]),
    Route(SVC + "/deploymentslots/{slot}", get_deployment, methods=["GET"]),
    Route(DEP, get_deployment, methods=["GET"]),
    Route(DEP + "/roles", add_role, methods=["POST"]),
    Route(DEP + "/roles/{role}", get_role, methods=["GET"]),
    Route(DEP + "/roles/{role}", update_role, methods=["PUT"]),
    Route(DEP + "/roles/{role}", delete_role, methods=["DELETE"]),
    Route(DEP + "/roleinstances/{role}/Operations", role_operation, methods=["POST"]),
    Route("/{sub}/services/disks", list_disks, methods=["GET"]),
    Route("/{sub}/services/disks", add_disk, methods=["POST"]),
    Route("/{sub}/services/disks/{name}", delete_disk, methods=["DELETE"]),
    Route("/{sub}/operations/{op}", get_operation, methods=["GET"]),
], default=unknown)
