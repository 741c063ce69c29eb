"""XML of the Service Management API, in the shapes the real endpoint returned and accepted.

Rendering follows the published reference ("List Hosted Services", "Get
Hosted Service Properties" with embed-detail, "Get Deployment", "Get Role",
"List Locations", "List Disks", "List Virtual Network Sites", "Get Operation
Status"): every element in the
namespace ``http://schemas.microsoft.com/windowsazure``, labels base64, roles
typed ``PersistentVMRole`` through ``i:type``, disks with ``IOType``
(``Provisioned`` on premium storage, ``Standard`` elsewhere).
"""

from __future__ import annotations

import base64
import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from fabric.state import LOCATIONS, NAMESPACE, ServiceError, now_iso

NS = {"a": NAMESPACE}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
HEAD = '<?xml version="1.0" encoding="utf-8"?>'
INT32_MAX = 2**31 - 1
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # the lexical forms of xs:boolean


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def el(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, inner: str) -> str:
    return f'{HEAD}<{root} xmlns="{NAMESPACE}" xmlns:i="{XSI}">{inner}</{root}>'


def error(code: str, message: str) -> str:
    return document("Error", el("Code", code) + el("Message", message))


# --- rendering -------------------------------------------------------------

def locations() -> str:
    services = "".join(el("AvailableService", name) for name in ("Compute", "Storage", "PersistentVMRole"))
    body = "".join(f"<Location>{el('Name', name)}{el('DisplayName', name)}<AvailableServices>{services}</AvailableServices>"
                   f"</Location>" for name in LOCATIONS)
    return document("Locations", body)


def service_properties(svc: dict) -> str:
    return (f"<HostedServiceProperties>{el('Description', svc.get('description', ''))}{el('Location', svc['location'])}"
            f"{el('Label', b64(svc.get('label') or svc['name']))}{el('Status', 'Created')}"
            f"{el('DateCreated', svc['created'])}{el('DateLastModified', svc['created'])}"
            f"<ExtendedProperties/></HostedServiceProperties>")


def hosted_service(base: str, sub: str, svc: dict, detail: bool) -> str:
    url = f"{base}/{sub}/services/hostedservices/{svc['name']}"
    inner = el("Url", url) + el("ServiceName", svc["name"]) + service_properties(svc)
    if detail:
        inner += "<Deployments>" + "".join(deployment(base, svc, dep) for dep in svc["deployments"].values()) + "</Deployments>"
    return inner


def hosted_services(base: str, sub: str, services: dict) -> str:
    return document("HostedServices", "".join(f"<HostedService>{hosted_service(base, sub, svc, False)}</HostedService>"
                                              for svc in services.values()))


def deployment(base: str, svc: dict, dep: dict, root: bool = False) -> str:
    roles = dep["roles"].values()
    inner = (el("Name", dep["name"]) + el("DeploymentSlot", dep.get("slot", "Production")) + el("PrivateID", dep["private_id"])
             + el("Status", "Running") + el("Label", b64(dep.get("label") or dep["name"]))
             + el("Url", f"http://{svc['name']}.cloudapp.net/") + el("Configuration", b64("<ServiceConfiguration/>"))
             + "<RoleInstanceList>" + "".join(role_instance(role) for role in roles) + "</RoleInstanceList>"
             + el("UpgradeDomainCount", 1)
             + "<RoleList>" + "".join(f'<Role i:type="PersistentVMRole">{role_body(base, role)}</Role>' for role in roles)
             + "</RoleList>"
             + el("SdkVersion", "") + el("Locked", False) + el("RollbackAllowed", False)
             + el("CreatedTime", dep["created"]) + el("LastModifiedTime", dep["created"])
             + el("VirtualNetworkName", dep.get("virtual_network")))
    return document("Deployment", inner) if root else f"<Deployment>{inner}</Deployment>"


def instance_status(role: dict) -> tuple[str, str]:
    if role["power"] == "Started":
        return "ReadyRole", "Started"
    return ("StoppedDeallocated" if role.get("deallocated") else "StoppedVM"), "Stopped"


def role_instance(role: dict) -> str:
    status, power = instance_status(role)
    inner = (el("RoleName", role["name"]) + el("InstanceName", role["name"]) + el("InstanceStatus", status)
             + el("InstanceUpgradeDomain", 0) + el("InstanceFaultDomain", 0) + el("InstanceSize", role["size"])
             + el("InstanceStateDetails", "") + el("IpAddress", role["ip"]) + el("PowerState", power)
             + el("HostName", role["name"]))
    if role.get("provision_guest_agent"):
        inner += guest_agent_status(role)
    statuses = role.get("extension_status") or {}
    if statuses:
        inner += "<ResourceExtensionStatusList>" + "".join(
            extension_status(name, status, role) for name, status in statuses.items()) + "</ResourceExtensionStatusList>"
    return f"<RoleInstance>{inner}</RoleInstance>"


def guest_agent_status(role: dict) -> str:
    ready = role["agent"] and role["power"] == "Started"
    message = ("GuestAgent is running and accepting new configurations." if ready
               else "VM Agent is unresponsive." if role["agent"] else "VM Agent is not installed.")
    # A running agent reports all the time; a stopped one was last heard of when it stopped.
    seen = now_iso() if ready else role.get("agent_seen", "")
    return ("<GuestAgentStatus>" + el("ProtocolVersion", "1.0") + el("Timestamp", seen)
            + el("GuestAgentVersion", "2.6.1198.718" if role["agent"] else "Unknown")
            + el("Status", "Ready" if ready else "NotReady")
            + f"<FormattedMessage>{el('Language', 'en-US')}{el('Message', message)}</FormattedMessage></GuestAgentStatus>")


def formatted(message: str) -> str:
    return f"<FormattedMessage>{el('Language', 'en-US')}{el('Message', message)}</FormattedMessage>"


def extension_status(handler: str, status: dict, role: dict) -> str:
    setting = status["setting"]
    substatus = "".join(f"<SubStatus>{el('Name', sub['name'])}{el('Code', sub['code'])}{el('Status', sub['status'])}"
                        f"{formatted(sub['message'])}</SubStatus>" for sub in setting.get("substatus", []))
    version = next((ext["version"] for ext in role.get("extensions", []) if f"{ext['publisher']}.{ext['name']}" == handler),
                   "1.0")
    return ("<ResourceExtensionStatus>" + el("HandlerName", handler) + el("Version", version) + el("Status", status["status"])
            + el("Code", status["code"]) + formatted(status["message"])
            + "<ExtensionSettingStatus>" + el("Timestamp", setting["timestamp"]) + el("Name", setting["name"])
            + el("Operation", setting["operation"]) + el("Status", setting["status"]) + el("Code", setting["code"])
            + formatted(setting["message"]) + (f"<SubStatusList>{substatus}</SubStatusList>" if substatus else "")
            + "</ExtensionSettingStatus></ResourceExtensionStatus>")


def role_body(base: str, role: dict) -> str:
    os_disk = role["os_disk"]
    inner = el("RoleName", role["name"]) + el("OsVersion", "") + el("RoleType", "PersistentVMRole")
    subnets = "".join(el("SubnetName", subnet) for subnet in role.get("subnets", []))
    inner += ("<ConfigurationSets><ConfigurationSet>" + el("ConfigurationSetType", "NetworkConfiguration")
              + f"<InputEndpoints/><SubnetNames>{subnets}</SubnetNames></ConfigurationSet></ConfigurationSets>")
    if role.get("extensions"):
        inner += "<ResourceExtensionReferences>" + "".join(extension_reference(ext) for ext in role["extensions"])
        inner += "</ResourceExtensionReferences>"
    inner += "<DataVirtualHardDisks>" + "".join(
        "<DataVirtualHardDisk>" + el("HostCaching", disk.get("host_caching", "None")) + el("DiskLabel", disk.get("label"))
        + el("DiskName", disk["name"]) + el("Lun", disk["lun"]) + el("LogicalDiskSizeInGB", disk["size_gb"])
        + el("MediaLink", f"{base}/{disk['blob']}") + el("IOType", disk.get("io_type", "Standard"))
        + "</DataVirtualHardDisk>" for disk in role["data_disks"])
    inner += "</DataVirtualHardDisks>"
    inner += ("<OSVirtualHardDisk>" + el("HostCaching", os_disk.get("host_caching", "ReadWrite"))
              + el("DiskLabel", os_disk.get("label")) + el("DiskName", os_disk["name"])
              + el("MediaLink", f"{base}/{os_disk['blob']}") + el("SourceImageName", os_disk.get("source_image"))
              + el("OS", role["os"]) + el("RemoteSourceImageLink", None) + el("IOType", os_disk.get("io_type", "Standard"))
              + "</OSVirtualHardDisk>")
    inner += el("RoleSize", role["size"]) + el("ProvisionGuestAgent", bool(role.get("provision_guest_agent")))
    return inner


def extension_reference(ext: dict) -> str:
    values = "".join("<ResourceExtensionParameterValue>" + el("Key", value.get("key")) + el("Value", value.get("value"))
                     + el("Type", value.get("type")) + "</ResourceExtensionParameterValue>"
                     for value in ext.get("parameters", []))
    return ("<ResourceExtensionReference>" + el("ReferenceName", ext.get("reference_name")) + el("Publisher", ext["publisher"])
            + el("Name", ext["name"]) + el("Version", ext["version"])
            + (f"<ResourceExtensionParameterValues>{values}</ResourceExtensionParameterValues>" if values else "")
            + el("State", ext.get("state", "Enable")) + "</ResourceExtensionReference>")


def role(base: str, role_: dict) -> str:
    return document("PersistentVMRole", role_body(base, role_))


def disks(base: str, rows: list[dict]) -> str:
    body = "".join(
        "<Disk>" + (f"<AttachedTo>{el('HostedServiceName', row['service'])}{el('DeploymentName', row['deployment'])}"
                    f"{el('RoleName', row['role'])}</AttachedTo>" if row.get("service") else "")
        + el("OS", row.get("os")) + el("Location", row["location"]) + el("LogicalDiskSizeInGB", row["size_gb"])
        + el("MediaLink", f"{base}/{row['blob']}") + el("Name", row["name"]) + el("SourceImageName", row.get("source_image"))
        + "</Disk>" for row in rows)
    return document("Disks", body)


def virtual_network_sites(networks: dict) -> str:
    """Regional virtual networks: a Location and no AffinityGroup, as networks created since 2014 were listed."""
    body = "".join(
        "<VirtualNetworkSite>" + el("Name", net["name"]) + el("Id", net["id"])
        + el("Location", net["location"]) + el("State", "Created")
        + "<AddressSpace><AddressPrefixes>" + "".join(el("AddressPrefix", prefix) for prefix in net["address_prefixes"])
        + "</AddressPrefixes></AddressSpace><Subnets>"
        + "".join(f"<Subnet>{el('Name', subnet['name'])}{el('AddressPrefix', subnet['prefix'])}</Subnet>"
                  for subnet in net["subnets"])
        + "</Subnets></VirtualNetworkSite>" for net in networks.values())
    return document("VirtualNetworkSites", body)


def operation(op) -> str:
    inner = el("ID", op.id) + el("Status", op.status) + el("HttpStatusCode", op.http_status)
    if op.error:
        inner += f"<Error>{el('Code', op.error[0])}{el('Message', op.error[1])}</Error>"
    return document("Operation", inner)


# --- parsing ---------------------------------------------------------------

def parse(body: bytes, root: str | tuple[str, ...]) -> ElementTree.Element:
    """The request document, refused unless it is XML whose root element is ``root`` (one of them, for a tuple)
    in the Service Management namespace: a body of another operation is an error, never an empty update."""
    try:
        # Expat (>= 2.4.1, bundled with Python 3.11) refuses entity-expansion
        # bombs and never resolves external entities.
        node = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as problem:
        raise ServiceError(400, "BadRequest", f"The request body is not valid XML: {problem}.") from None
    expected = (root,) if isinstance(root, str) else root
    if node.tag not in {f"{{{NAMESPACE}}}{name}" for name in expected}:
        namespace, _, name = node.tag[1:].rpartition("}") if node.tag.startswith("{") else ("", "", node.tag)
        raise ServiceError(400, "BadRequest", f"The specified XML is not valid: expecting element '{expected[0]}' from "
                           f"namespace '{NAMESPACE}', encountered element '{name}' from namespace '{namespace}'.")
    return node


def text(node: ElementTree.Element | None, name: str, default: str | None = None) -> str | None:
    if node is None:
        return default
    child = node.find(f"a:{name}", NS)
    return child.text if child is not None and child.text is not None else default


def integer(node: ElementTree.Element, name: str, default: int = 0) -> int:
    """A non-negative Int32 element (a LUN, a size in GB), refused with the element's name when it is not one."""
    value = text(node, name)
    if value is None or not value.strip():
        return default
    if not re.fullmatch(r"\s*\+?[0-9]+\s*", value) or int(value) > INT32_MAX:
        raise ServiceError(400, "BadRequest", f"The value '{value}' of element '{name}' is not valid: it must be a "
                           f"whole number from 0 to {INT32_MAX}.")
    return int(value)


def boolean(node: ElementTree.Element, name: str) -> bool | None:
    """An xs:boolean element, or None when it is absent; any other text is refused with the element's name."""
    value = text(node, name)
    if value is None:
        return None
    if value.strip().lower() not in BOOLEANS:
        raise ServiceError(400, "BadRequest", f"The value '{value}' of element '{name}' is not valid: it must be true "
                           "or false.")
    return BOOLEANS[value.strip().lower()]


def parse_role(node: ElementTree.Element) -> dict:
    """The parts of a PersistentVMRole (Update Role, Add Role, a deployment's Role) that the lab acts on."""
    parsed: dict = {"name": text(node, "RoleName"), "size": text(node, "RoleSize")}
    sets = node.find("a:ConfigurationSets", NS)
    parsed["subnets"] = None if sets is None else [
        name.text or "" for config in sets.findall("a:ConfigurationSet", NS)
        if text(config, "ConfigurationSetType") == "NetworkConfiguration"
        for name in config.findall("a:SubnetNames/a:SubnetName", NS)]
    parsed["provision_guest_agent"] = boolean(node, "ProvisionGuestAgent")
    refs = node.find("a:ResourceExtensionReferences", NS)
    parsed["extensions"] = None if refs is None else [
        {"reference_name": text(ref, "ReferenceName"), "publisher": text(ref, "Publisher"), "name": text(ref, "Name"),
         "version": text(ref, "Version"), "state": text(ref, "State", "Enable"),
         "parameters": [{"key": text(value, "Key"), "value": text(value, "Value"), "type": text(value, "Type", "Public")}
                        for value in ref.findall("a:ResourceExtensionParameterValues/a:ResourceExtensionParameterValue", NS)]}
        for ref in refs.findall("a:ResourceExtensionReference", NS)]
    os_disk = node.find("a:OSVirtualHardDisk", NS)
    parsed["os_disk"] = None if os_disk is None else {
        "name": text(os_disk, "DiskName"), "label": text(os_disk, "DiskLabel"), "media": text(os_disk, "MediaLink"),
        "os": text(os_disk, "OS"), "host_caching": text(os_disk, "HostCaching", "ReadWrite"),
        "source_image": text(os_disk, "SourceImageName")}
    data = node.find("a:DataVirtualHardDisks", NS)
    parsed["data_disks"] = None if data is None else [
        {"name": text(disk, "DiskName"), "label": text(disk, "DiskLabel"), "media": text(disk, "MediaLink"),
         "lun": integer(disk, "Lun"), "size_gb": integer(disk, "LogicalDiskSizeInGB"),
         "host_caching": text(disk, "HostCaching", "None")}
        for disk in data.findall("a:DataVirtualHardDisk", NS)]
    return parsed
