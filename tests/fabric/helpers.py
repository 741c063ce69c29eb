"""Small helpers the fabric tests share: raw XML reads, operation polling, backup-extension references."""

from __future__ import annotations

import base64
import json
import time
from xml.etree import ElementTree

from azure.servicemanagement import ResourceExtensionParameterValue, ResourceExtensionReference

NS = {"a": "http://schemas.microsoft.com/windowsazure"}


def raw(sms, path: str) -> ElementTree.Element:
    """The XML the SDK's models do not keep (GuestAgentStatus, ResourceExtensionStatusList, ...)."""
    return ElementTree.fromstring(sms.perform_get(f"/{sms.subscription_id}{path}").body)  # noqa: S314


def wait_operation(sms, request_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = sms.get_operation_status(request_id)
        if operation.status != "InProgress":
            return operation
        time.sleep(0.05)
    raise TimeoutError(f"operation {request_id} still in progress after {timeout}s")


def backup_extension(task_id: str | None = None, name: str = "VMSnapshot") -> ResourceExtensionReference:
    ext = ResourceExtensionReference(name, "Microsoft.Azure.RecoveryServices", name, "1.0")
    if task_id:
        value = ResourceExtensionParameterValue()
        value.key, value.type = "VMSnapshotPublicConfig", "Public"
        value.value = base64.b64encode(json.dumps({"taskId": task_id, "command": "snapshot", "disks": "all"}).encode()).decode()
        ext.resource_extension_parameter_values.resource_extension_parameter_values.append(value)
    return ext


def role_instance(sms, service: str, vm: str) -> ElementTree.Element:
    root = raw(sms, f"/services/hostedservices/{service}?embed-detail=true")
    for instance in root.iterfind("a:Deployments/a:Deployment/a:RoleInstanceList/a:RoleInstance", NS):
        if instance.findtext("a:RoleName", namespaces=NS) == vm:
            return instance
    raise LookupError(vm)


def extension_setting(sms, service: str, vm: str) -> ElementTree.Element | None:
    instance = role_instance(sms, service, vm)
    return instance.find("a:ResourceExtensionStatusList/a:ResourceExtensionStatus/a:ExtensionSettingStatus", NS)


def snapshot_result(setting: ElementTree.Element) -> dict:
    for sub in setting.iterfind("a:SubStatusList/a:SubStatus", NS):
        if sub.findtext("a:Name", namespaces=NS) == "VMSnapshotResult":
            return json.loads(sub.findtext("a:FormattedMessage/a:Message", namespaces=NS))
    raise LookupError("no VMSnapshotResult substatus")


def wait_setting(sms, service: str, vm: str, task_id: str, timeout: float = 10.0) -> ElementTree.Element:
    """The extension's setting status for ``task_id`` once it left ``transitioning``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        setting = extension_setting(sms, service, vm)
        if (setting is not None and setting.findtext("a:Name", namespaces=NS) == task_id
                and setting.findtext("a:Status", namespaces=NS) != "transitioning"):
            return setting
        time.sleep(0.05)
    raise TimeoutError(f"snapshot {task_id} of {service}/{vm} did not finish in {timeout}s")
