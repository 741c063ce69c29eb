"""The backup extension on a VM: install, remove, and read its status through the compute API.

The extension is a ``ResourceExtensionReference`` (publisher
``Microsoft.Azure.RecoveryServices``, ``VMSnapshot`` or ``VMSnapshotLinux``)
set by Update Role; its state comes back in the role instance's
``ResourceExtensionStatusList``. The SDK's Update Role cannot send an empty
reference list (it omits the element), so the role update is written here and
sent with the SDK's ``perform_put``; the SDK's models also drop the references
and statuses, so they are read from the raw XML.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from azure.servicemanagement import ServiceManagementService

from vaults.cloud.endpoint import NS, Endpoint, raw_xml, request_id
from vaults.cloud.endpoint import text_of as _text
from vaults.cloud.errors import FabricError
from vaults.cloud.hosted import hosted_service

PUBLISHER = "Microsoft.Azure.RecoveryServices"
VERSION = "1.*"
REFERENCE_NAME = "VMSnapshot"


def extension_name(os_type: str) -> str:
    return "VMSnapshotLinux" if os_type.lower() == "linux" else "VMSnapshot"


@dataclass
class Reference:
    reference_name: str
    publisher: str
    name: str
    version: str
    state: str = "Enable"
    parameters: list[tuple[str, str, str]] = field(default_factory=list)  # (key, value, type)

    @property
    def is_backup(self) -> bool:
        return self.publisher == PUBLISHER and self.name in ("VMSnapshot", "VMSnapshotLinux")

    def to_xml(self) -> str:
        params = "".join(
            f"<ResourceExtensionParameterValue><Key>{escape(k)}</Key><Value>{escape(v)}</Value><Type>{escape(t)}</Type>"
            "</ResourceExtensionParameterValue>" for k, v, t in self.parameters)
        return (f"<ResourceExtensionReference><ReferenceName>{escape(self.reference_name)}</ReferenceName>"
                f"<Publisher>{escape(self.publisher)}</Publisher><Name>{escape(self.name)}</Name>"
                f"<Version>{escape(self.version)}</Version>"
                + (f"<ResourceExtensionParameterValues>{params}</ResourceExtensionParameterValues>" if params else "")
                + f"<State>{escape(self.state)}</State></ResourceExtensionReference>")


@dataclass
class ExtensionStatus:
    handler_status: str  # the handler: NotReady | Ready | ...
    setting_name: str  # the configuration it last applied (the snapshot task id, or "Enable")
    operation: str
    status: str  # transitioning | success | error | warning
    message: str
    substatus: dict[str, str]  # name -> message


def role_path(subscription_id: str, service: str, deployment: str, role: str) -> str:
    return f"/{subscription_id}/services/hostedservices/{service}/deployments/{deployment}/roles/{role}"


def read_role(client: ServiceManagementService, path: str) -> tuple[list[Reference], str]:
    """The role's extension references and its OS type (Windows/Linux), from Get Role's raw XML."""
    root = raw_xml(client, path)
    refs = [
        Reference(reference_name=_text(ref, "wa:ReferenceName"), publisher=_text(ref, "wa:Publisher"),
                  name=_text(ref, "wa:Name"), version=_text(ref, "wa:Version"), state=_text(ref, "wa:State") or "Enable",
                  parameters=[(_text(v, "wa:Key"), _text(v, "wa:Value"), _text(v, "wa:Type") or "Public")
                              for v in ref.iterfind("wa:ResourceExtensionParameterValues/"
                                                    "wa:ResourceExtensionParameterValue", NS)])
        for ref in root.iterfind("wa:ResourceExtensionReferences/wa:ResourceExtensionReference", NS)]
    return refs, _text(root, "wa:OSVirtualHardDisk/wa:OS") or "Windows"


def update_references(client: ServiceManagementService, path: str, references: list[Reference]) -> str:
    """Update Role with exactly these references (and the agent flag on); returns the request id to poll."""
    role_name = path.rsplit("/", 1)[1]
    body = ('<PersistentVMRole xmlns="http://schemas.microsoft.com/windowsazure" '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
            f"<RoleName>{escape(role_name)}</RoleName><RoleType>PersistentVMRole</RoleType>"
            f"<ResourceExtensionReferences>{''.join(r.to_xml() for r in references)}</ResourceExtensionReferences>"
            "<ProvisionGuestAgent>true</ProvisionGuestAgent></PersistentVMRole>")
    answer = request_id(client.perform_put(path, body))
    if not answer:
        raise FabricError("The endpoint accepted the role update but returned no x-ms-request-id to follow it by.",
                          transient=False)
    return answer


def backup_reference(os_type: str, public_config: dict | None = None) -> Reference:
    params = []
    if public_config is not None:
        value = base64.b64encode(json.dumps(public_config).encode()).decode()
        params.append(("VMSnapshotPublicConfig", value, "Public"))
    return Reference(REFERENCE_NAME, PUBLISHER, extension_name(os_type), VERSION, parameters=params)


def extension_status(client: ServiceManagementService, endpoint: Endpoint, service: str, role: str
                     ) -> ExtensionStatus | None:
    """The backup extension's status on the role instance, or None when it reports none (or the service is gone)."""
    root = hosted_service(client, endpoint, service)
    if root is None:
        return None
    for instance in root.iterfind("wa:Deployments/wa:Deployment/wa:RoleInstanceList/wa:RoleInstance", NS):
        if _text(instance, "wa:RoleName") != role:
            continue
        for status in instance.iterfind("wa:ResourceExtensionStatusList/wa:ResourceExtensionStatus", NS):
            if not _text(status, "wa:HandlerName").startswith(f"{PUBLISHER}.VMSnapshot"):
                continue
            setting = status.find("wa:ExtensionSettingStatus", NS)
            return ExtensionStatus(
                handler_status=_text(status, "wa:Status"), setting_name=_text(setting, "wa:Name"),
                operation=_text(setting, "wa:Operation"), status=_text(setting, "wa:Status").lower(),
                message=_text(setting, "wa:FormattedMessage/wa:Message"),
                substatus={_text(s, "wa:Name"): _text(s, "wa:FormattedMessage/wa:Message")
                           for s in setting.iterfind("wa:SubStatusList/wa:SubStatus", NS)} if setting is not None else {},
            )
    return None
