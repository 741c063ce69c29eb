"""The lab's tutorial through the API alone, as an Operator with a token: quick-create a vault, discover, register,
protect, back up and restore, with the real worker and the lab fabric; the restored disks hold the point's bytes."""

from __future__ import annotations

import time

import pytest

from jobs.models import Job
from tests.backup.helpers import same_bytes
from vaults.cloud.endpoint import compute_client
from vaults.models import RecoveryPoint

from .conftest import ApiClient, api_client_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TERMINAL = {"completed", "completed_with_warnings", "failed", "cancelled"}


def finished(api: ApiClient, accepted, timeout: float = 120) -> dict:
    """Poll the job a 202 names (its Location) until it ends; the job resource as it ended."""
    assert accepted.status_code == 202, accepted.content[:400]
    url = accepted["Location"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(url).json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.3)
    raise AssertionError(f"{url} did not finish within {timeout}s")


def every(api: ApiClient, path: str) -> list[dict]:
    """Every row of a list, following its `next` links."""
    rows, url = [], f"{path}?limit=10"
    while url:
        page = api.get(url).json()
        rows += page["items"]
        url = page["next"]
    return rows


def test_the_tutorial_through_the_api(lab_subscription, member, celery_worker_process, vault_stores_removed):
    api = api_client_for(member)
    [subscription] = every(api, "/api/v1/subscriptions")

    response = api.post("/vaults", {"name": "api-tutorial", "region": "East US", "subscription": subscription["id"]})
    assert response.status_code == 201, response.content
    vault = response.json()
    assert response["Location"] == vault["url"] and vault["status"] == "active"
    base = f"/vaults/{vault['id']}"

    job = finished(api, api.post(f"{base}/discover"))
    assert job["status"] == "completed", job
    assert job["properties"]["Virtual machines found"] > 0
    vms = every(api, f"/api/v1{base}/discovered-vms")
    web02 = next(vm for vm in vms if (vm["cloud_service"], vm["name"]) == ("contoso-web", "web02"))

    accepted = api.post(f"{base}/registered-items", {"vm": web02["id"]})
    job = finished(api, accepted)
    assert job["status"] == "completed", job
    registered = api.get(f"{base}/registered-items/{accepted.json()['item']}").json()
    assert registered["status"] == "registered" and registered["vm"]["name"] == "web02"

    [policy] = every(api, f"/api/v1{base}/policies")
    assert policy["name"] == "DefaultPolicy"
    accepted = api.post(f"{base}/protected-items", {"registered_item": registered["id"], "policy": policy["id"]})
    job = finished(api, accepted)
    assert job["status"] == "completed", job
    item_url = f"{base}/protected-items/{accepted.json()['item']}"
    assert api.get(item_url).json()["status"] == "pending"  # Protected - (initial backup pending)

    job = finished(api, api.post(f"{item_url}/backup"))
    assert job["status"] == "completed", job
    assert [step["name"] for step in job["subtasks"]] == ["Take Snapshot", "Transfer data to vault"]
    item = api.get(item_url).json()
    assert item["status"] == "protected" and item["last_backup_status"] == "Completed" and item["recovery_points"] == 1
    [point] = every(api, f"/api/v1{item_url}/recovery-points")

    accepted = api.post(f"{item_url}/restore", {"recovery_point": point["id"], "vm_name": "apitut",
                                                 "cloud_service": "contoso-web", "storage_account": "labstoreeastus"})
    job = finished(api, accepted, timeout=180)
    assert job["status"] == "completed", job

    # The new VM exists in the fabric, and each of its disks holds exactly the backed-up snapshot's bytes.
    detail = compute_client(lab_subscription.endpoint).get_hosted_service_properties("contoso-web", embed_detail=True)
    assert "apitut" in {role.role_name for deployment in detail.deployments for role in deployment.role_list}
    row = RecoveryPoint.objects.get(pk=point["id"])
    created = Job.objects.get(pk=job["id"]).params["created_blobs"]
    for disk in row.disks:
        url = next(u for u in created if f"-{disk['name']}-" in u)
        assert same_bytes(lab_subscription, disk["media_link"], disk["snapshot"], url)

    # Every step is in the operations log, as the user who asked.
    log = every(api, "/api/v1/operations-log")
    done = {entry["operation"] for entry in log if entry["username"] == "member" and entry["vault"] == vault["id"]}
    assert {"create_vault", "discovery", "register", "configure_protection", "backup", "restore"} <= done
