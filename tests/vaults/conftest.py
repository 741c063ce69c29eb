from __future__ import annotations

import time

import pytest


@pytest.fixture
def lab_subscription(lab_fabric, subscription, member, owner):
    """The personas' subscription, pointed at the running lab fabric.

    The lab is shared by the whole session, so whatever a test registered is
    unregistered in the fabric afterwards (the backup extension comes off).
    """
    subscription.subscription_id = lab_fabric.subscription_id
    subscription.host = lab_fabric.host
    subscription.save()
    yield subscription
    remove_backup_extensions(subscription)


def remove_backup_extensions(subscription) -> None:
    from vaults.compute import compute_client
    from vaults.extension import read_role, role_path, update_references

    client = compute_client(subscription.endpoint)
    pending = []
    for service in client.list_hosted_services():
        details = client.get_hosted_service_properties(service.service_name, embed_detail=True)
        for deployment in details.deployments:
            for role in deployment.role_list:
                path = role_path(subscription.subscription_id, service.service_name, deployment.name, role.role_name)
                references, _os = read_role(client, path)
                if any(ref.is_backup for ref in references):
                    pending.append(update_references(client, path, [r for r in references if not r.is_backup]))
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        pending = [rid for rid in pending if client.get_operation_status(rid).status == "InProgress"]
        time.sleep(0.1)
