"""Backup and restore as the jobs run them, in this process, against the lab fabric."""

from __future__ import annotations

from vaults.backup import blob_client

from jobs.models import Job, Operation
from tests.fixtures.vaults import wait_for_job
from vaults.models import ProtectedItem, RegisteredItem, Vault, VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.registration import Register
from vaults.services.policies import create_default_policy


def wait_for(job: Job, timeout: float = 60) -> Job:
    return wait_for_job(job, timeout)


def run(job: Job) -> Job:
    """Run a job's task here, as a worker would."""
    from celery import current_app

    import vaults.tasks  # noqa: F401 - registers the tasks

    current_app.tasks[job.task_name].apply(args=[job.pk])
    job.refresh_from_db()
    return job




def lab_vault(subscription, region: str = "East US", name: str = "east", replication: str = "LRS") -> Vault:
    return Vault.objects.create(subscription=subscription, name=name, region=region, status="active",
                                replication=replication)


def protect(user, vault: Vault, service: str, name: str, *, runner=run) -> ProtectedItem:
    """Discover, register and protect one lab VM (DefaultPolicy)."""
    if not VirtualMachine.objects.filter(subscription=vault.subscription, cloud_service=service, name=name).exists():
        job = runner(Discovery.start(user, vault))
        assert job.status == "completed", job.error_message
    vm = VirtualMachine.objects.get(subscription=vault.subscription, cloud_service=service, name=name)
    [outcome] = Register.start_many(user, vault, [vm.pk])
    assert outcome.refusal == "", outcome.refusal
    # Not filtered by status: a running worker may have started the job already.
    job = runner(Job.objects.filter(item_key=outcome.item.item_key, operation=Operation.REGISTER).latest("pk"))
    assert job.status == "completed", job.error_message
    registered = RegisteredItem.objects.get(vm=vm)
    policy = vault.policies.first() or create_default_policy(vault)
    return ProtectedItem.objects.create(item=registered, vault=vault, policy=policy)


def back_up(user, item: ProtectedItem, *, runner=run) -> Job:
    return runner(Backup.start(user, item))


def write(subscription, url: str, offset: int, data: bytes) -> None:
    blob_client(subscription.endpoint).write_pages(url, offset, data)


def same_bytes(subscription, snapshot_url: str, snapshot: str, restored_url: str) -> bool:
    """Whether a restored blob holds exactly the snapshot's bytes (compared over both blobs' valid ranges)."""
    client = blob_client(subscription.endpoint)
    if client.size(snapshot_url, snapshot=snapshot) != client.size(restored_url):
        return False
    spans = _ranges(client.page_ranges(snapshot_url, snapshot=snapshot)) + _ranges(client.page_ranges(restored_url))
    for start, end in spans:
        for at in range(start, end, 4 << 20):
            length = min(4 << 20, end - at)
            if client.read(snapshot_url, at, length, snapshot=snapshot) != client.read(restored_url, at, length):
                return False
    return True


def disk_bytes(subscription, url: str, snapshot: str | None = None) -> dict[tuple[int, int], bytes]:
    """The bytes of every valid page range of a blob (or snapshot)."""
    client = blob_client(subscription.endpoint)
    return {(start, end): client.read(url, start, end - start, snapshot=snapshot)
            for start, end in _ranges(client.page_ranges(url, snapshot=snapshot))}


def _ranges(ranges) -> list[tuple[int, int]]:
    out = []
    for r in ranges:
        start, end = (r.start, r.end) if hasattr(r, "start") else r
        out.append((start, end))
    return out
