"""Backup and restore through the jobs, run in this process, against the lab fabric."""

from __future__ import annotations

import os
import time

import pytest

from jobs.errors import JobError
from tests.fixtures.store import damage_chunk
from vaults.cloud import deployments
from vaults.cloud.endpoint import compute_client
from vaults.cloud.pageblob import PageBlobError, blob_client
from vaults.models import ProtectedItem, RecoveryPoint, VirtualMachine
from vaults.operations import backup as backup_operation
from vaults.operations import restore as restore_operation
from vaults.operations.restore import Restore
from vaults.services.backup import point_id_for
from vaults.services.refusals import Refusal
from vaults.services.restore import RestoreRequest
from vaults.services.storage import open_store

from .helpers import back_up, lab_vault, protect, run, same_bytes, write

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def east(lab_subscription, owner):
    return lab_vault(owner, lab_subscription)


def restore_as(member, point: RecoveryPoint, vm_name: str, service: str = "contoso-web", new_service: bool = False):
    return run(Restore.start(member, point, RestoreRequest(vm_name, service, new_service, "labstoreeastus")))


def role_names(subscription, service: str) -> set[str]:
    client = compute_client(subscription.endpoint)
    detail = client.get_hosted_service_properties(service, embed_detail=True)
    return {role.role_name for dep in detail.deployments for role in dep.role_list}


def test_full_then_incremental_backups_restore_bit_for_bit(east, member, lab_subscription):
    item = protect(member, east, "contoso-web", "web02")
    first = back_up(member, item)
    assert first.status == "completed", first.error_message
    assert [s.name for s in first.subtasks.all()] == ["Take Snapshot", "Transfer data to vault"]
    assert first.properties["Backup kind"] == "Full" and first.properties["Consistency"] == "Application consistent"
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.PROTECTED and item.last_backup_status == "Completed"
    point1 = item.recovery_points.get()
    assert point1.store_point_id == point_id_for(first.pk) and point1.expires is not None
    east.refresh_from_db()  # the dashboard's figure: what the engine counted in the store after the backup
    assert east.storage_used == open_store(east).stored_bytes() >= point1.stored_bytes > 0
    os_disk = next(d for d in point1.disks if d["lun"] is None)

    # The workload writes; the next backup reads only what changed.
    write(lab_subscription, os_disk["media_link"], 5 << 20, os.urandom(64 << 10))
    write(lab_subscription, os_disk["media_link"], 9 << 20, b"x" * (64 << 10))
    second = back_up(member, item)
    assert second.status == "completed", second.error_message
    assert second.properties["Backup kind"] == "Incremental"
    item.refresh_from_db()
    point2 = item.recovery_points.order_by("-created").first()
    assert point2.stored_bytes < 2 << 20 and second.properties["Data transferred"].endswith(("KB", "MB"))
    assert point2.pk != point1.pk
    # The base snapshots are the new point's; the previous ones were released.
    assert {v["snapshot"] for v in item.base_snapshots.values()} == {d["snapshot"] for d in point2.disks}

    job = restore_as(member, point2, "rsfull2")
    assert job.status == "completed", job.error_message
    assert "rsfull2" in role_names(lab_subscription, "contoso-web")
    for disk in point2.disks:
        url = next(u for u in job.params["created_blobs"] if f"-{disk['name']}-" in u)
        assert same_bytes(lab_subscription, disk["media_link"], disk["snapshot"], url)
    assert job.properties["Digests verified"] == len(point2.disks)

    job = restore_as(member, point1, "rsfull1")
    assert job.status == "completed", job.error_message

    # Restoring to a name that exists is refused.
    with pytest.raises(Refusal, match="already exists"):
        Restore.start(member, point1, RestoreRequest("rsfull1", "contoso-web", False, "labstoreeastus"))
    with pytest.raises(Refusal, match="same region"):
        Restore.start(member, point1, RestoreRequest("rsfull3", "contoso-web", False, "labstorewestus"))
    with pytest.raises(Refusal, match="subnet 'back' does not exist"):
        Restore.start(member, point1, RestoreRequest("rsfull3", "contoso-web", False, "labstoreeastus", "contoso-vnet",
                                                     "back"))
    with pytest.raises(Refusal, match="already taken"):
        Restore.start(member, point1, RestoreRequest("rsfull3", "contoso-sql", True, "labstoreeastus"))


def test_stopped_vm_is_backed_up_crash_consistent(lab_subscription, member, owner):
    west = lab_vault(owner, lab_subscription, "West US", "west")
    item = protect(member, west, "fabrikam-app", "app02")
    client = compute_client(lab_subscription.endpoint)
    wait(client, client.shutdown_role("fabrikam-app", "fabrikam-app", "app02").request_id)
    try:
        job = back_up(member, item)
    finally:
        wait(client, client.start_role("fabrikam-app", "fabrikam-app", "app02").request_id)
    assert job.status == "completed", job.error_message
    assert job.properties["Consistency"] == "Crash consistent"
    assert item.recovery_points.get().consistency == "crash"


def wait(client, request_id: str) -> None:
    deadline = time.monotonic() + 20
    while client.get_operation_status(request_id).status == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.1)


def test_agent_that_does_not_answer_fails_with_the_snapshot_timeout(east, member, fabric_faults, settings):
    item = protect(member, east, "tailspin-web", "web01")
    settings.BACKUP_SNAPSHOT_TIMEOUT_SECONDS = 2
    fabric_faults(agent_unresponsive=["tailspin-web/web01"])
    job = back_up(member, item)
    assert job.status == "failed"
    assert job.error_code == "UserErrorVmAgentSnapshotTimedOut"
    assert "Snapshot VM sub task timed out" in job.error_message and job.recommendations
    assert not item.recovery_points.exists()
    item.refresh_from_db()
    assert item.last_backup_status == "Failed"
    assert item.status == ProtectedItem.Status.ERROR and "Snapshot VM sub task timed out" in item.error_message


def test_fabric_5xx_during_transfer_is_retried(lab_subscription, member, owner, fabric_faults):
    item = protect(member, lab_vault(owner, lab_subscription, "West US", "west"), "fabrikam-app", "app01")
    fabric_faults(error_rate=0.2, error_status=503, error_scope="blob")
    job = back_up(member, item)
    assert job.status == "completed", job.error_message
    assert item.recovery_points.count() == 1


def test_a_backup_retried_after_a_temporary_error_reuses_the_snapshot_it_took(lab_subscription, member, owner,
                                                                              monkeypatch):
    from jobs.errors import TransientError

    item = protect(member, lab_vault(owner, lab_subscription, "West US", "west"), "fabrikam-app", "app01")
    assert back_up(member, item).status == "completed"
    monkeypatch.setenv("JOBS_BACKOFF_BASE_MS", "0")
    real_request, real_wait = backup_operation.backup.request_snapshot, backup_operation.backup.wait_for_snapshot
    real_transfer = backup_operation._transfer
    requested, taken = [], []

    def request(*args, **kwargs):
        requested.append(args)
        return real_request(*args, **kwargs)

    def recorded(*args, **kwargs):
        snapshot = real_wait(*args, **kwargs)
        taken.append({(d["mediaLink"], d["snapshot"]) for d in snapshot.disks})
        return snapshot

    def busy_once(*args, **kwargs):
        if len(taken) == 1:
            raise TransientError("503 ServerBusy")
        return real_transfer(*args, **kwargs)

    monkeypatch.setattr(backup_operation.backup, "request_snapshot", request)
    monkeypatch.setattr(backup_operation.backup, "wait_for_snapshot", recorded)
    monkeypatch.setattr(backup_operation, "_transfer", busy_once)
    job = back_up(member, item)
    assert job.status == "completed" and job.attempts == 1, job.error_message
    item.refresh_from_db()
    # The retry waited for the request it had made, under the same task id, and got the same snapshots: none is
    # left over.
    assert len(requested) == 1
    assert len(taken) == 2 and taken[0] == taken[1]
    kept = {(v["media_link"], v["snapshot"]) for v in item.base_snapshots.values()}
    assert kept == taken[0]
    client = blob_client(lab_subscription.endpoint)
    assert all(client.snapshot_exists(url, snapshot) for url, snapshot in kept)


def test_corrupted_chunk_is_named_by_verify_and_restore_fails_without_a_vm(east, member, lab_subscription):
    from vaults.operations.maintenance import Verify

    item = protect(member, east, "contoso-web", "web01")
    assert back_up(member, item).status == "completed"
    point = item.recovery_points.get()
    store = open_store(east)
    manifest = store.load_point(point.store_point_id).disks[0]
    chunk = next(c for c in manifest.chunks if c)
    damage_chunk(store, chunk)

    job = restore_as(member, point, "rsbad")
    assert job.status == "failed" and job.error_code == "RecoveryPointDamaged", job.error_message
    assert "rsbad" not in role_names(lab_subscription, "contoso-web")
    for url in job.params.get("created_blobs", []):
        with pytest.raises(PageBlobError):
            blob_client(lab_subscription.endpoint).size(url)

    job = run(Verify.start_for(member, east))
    assert job.status == "failed" and job.error_code == "VaultDataCorrupted"
    assert any("web01" in name for name in job.properties["Affected recovery points"])


def test_a_restore_that_fails_after_creating_its_cloud_service_removes_it_again(east, member, lab_subscription,
                                                                                  monkeypatch):
    item = protect(member, east, "contoso-web", "web01")
    assert back_up(member, item).status == "completed"
    point = item.recovery_points.get()

    def refuse(*args, **kwargs):
        raise JobError("RoleRefused", "The role could not be described.", ["Try again."])

    monkeypatch.setattr(deployments, "role_xml", refuse)  # fails after the new cloud service exists
    job = restore_as(member, point, "rsnew", service="rs-new-svc", new_service=True)
    assert job.status == "failed" and job.error_code == "RoleRefused", job.error_message
    assert job.params.get("created_service") == "rs-new-svc"
    services = compute_client(lab_subscription.endpoint).list_hosted_services()
    assert "rs-new-svc" not in {service.service_name for service in services}  # nothing half-restored stays
    for url in job.params.get("created_blobs", []):
        with pytest.raises(PageBlobError):
            blob_client(lab_subscription.endpoint).size(url)


def test_a_restore_that_fails_after_creating_its_vm_removes_the_vm_and_its_disks(east, member, lab_subscription,
                                                                                   monkeypatch):
    item = protect(member, east, "contoso-web", "web01")
    assert back_up(member, item).status == "completed"
    point = item.recovery_points.get()

    def lost(client, request_id, **kwargs):
        raise JobError("OperationFailed", "Creating the virtual machine failed: the host went away.", ["Try again."])

    monkeypatch.setattr(restore_operation, "wait_for_operation", lost)  # the role exists; its creation never reports
    started = time.monotonic()
    job = restore_as(member, point, "rsgone")
    assert job.status == "failed" and job.error_code == "OperationFailed", job.error_message
    assert job.params.get("created_role", {}).get("role") == "rsgone"
    assert "rsgone" not in role_names(lab_subscription, "contoso-web")  # the cleanup deleted it and waited for that
    assert job.params.get("created_blobs")
    for url in job.params["created_blobs"]:
        with pytest.raises(PageBlobError):
            blob_client(lab_subscription.endpoint).size(url)
    assert time.monotonic() - started < 30


def test_a_restore_retried_after_its_vm_was_asked_for_finishes_that_vm(east, member, lab_subscription, monkeypatch):
    from jobs.errors import TransientError

    item = protect(member, east, "contoso-web", "web01")
    assert back_up(member, item).status == "completed"
    monkeypatch.setenv("JOBS_BACKOFF_BASE_MS", "0")
    real_wait = restore_operation.wait_for_operation
    calls = []

    def busy_once(client, request_id, **kwargs):
        calls.append(request_id)
        if len(calls) == 1:
            raise TransientError("503 ServiceUnavailable while polling the operation")
        return real_wait(client, request_id, **kwargs)

    monkeypatch.setattr(restore_operation, "wait_for_operation", busy_once)
    job = restore_as(member, item.recovery_points.get(), "rsretry")
    assert job.status == "completed", job.error_message
    assert job.attempts == 1
    assert "rsretry" in role_names(lab_subscription, "contoso-web")
    assert calls[0] == calls[1]  # the retry waited for the VM it had asked for, and asked for no second one


def test_a_restore_retried_before_its_vm_was_asked_for_keeps_the_disks_it_proved(east, member, lab_subscription,
                                                                                  monkeypatch):
    from jobs.errors import TransientError

    item = protect(member, east, "contoso-web", "web01")
    assert back_up(member, item).status == "completed"
    monkeypatch.setenv("JOBS_BACKOFF_BASE_MS", "0")
    real_detail, real_restore = restore_operation.service_detail, restore_operation._restore_disks
    details, restores = [], []

    def busy_once(*args):
        details.append(args)
        if len(details) == 1:  # the VM creation's look at the cloud service (the target check has its own)
            raise TransientError("503 ServiceUnavailable")
        return real_detail(*args)

    monkeypatch.setattr(restore_operation, "service_detail", busy_once)
    monkeypatch.setattr(restore_operation, "_restore_disks", lambda *args: restores.append(1) or real_restore(*args))
    job = restore_as(member, item.recovery_points.get(), "rskeep")
    assert job.status == "completed", job.error_message
    assert job.attempts == 1 and len(restores) == 1  # the retry reused the proven blobs
    assert "rskeep" in role_names(lab_subscription, "contoso-web")


def test_a_vm_that_no_longer_exists_fails_with_the_documented_error(lab_subscription, member, owner):
    west = lab_vault(owner, lab_subscription, "West US", "west")
    item = protect(member, west, "fabrikam-app", "app02")
    # The shared lab must keep its VMs, so the row is pointed at a role the fabric does not have (it answers 404).
    VirtualMachine.objects.filter(pk=item.item.vm_id).update(name="ghost01")
    job = back_up(member, item)
    assert job.status == "failed" and job.error_code == "UserErrorVmNotFound"
    assert "no longer exists" in job.error_message and job.recommendations
    assert not item.recovery_points.exists()
