"""Backup and restore as the jobs run them, in this process, against the lab fabric.

Vaults are quick-created and VMs registered and protected through the same
services and jobs a person's clicks start (``tests.fixtures.vaults``).
"""

from __future__ import annotations

from jobs.models import Job
from tests.fixtures.vaults import protect_vm, quick_vault, run_job, wait_for_job
from vaults.cloud.pageblob import blob_client
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup

__all__ = ["back_up", "disk_bytes", "lab_vault", "protect", "run", "same_bytes", "wait_for", "write"]

run = run_job


def wait_for(job: Job, timeout: float = 60) -> Job:
    return wait_for_job(job, timeout)


def lab_vault(owner, subscription, region: str = "East US", name: str = "east",
              replication: str = Vault.Replication.LRS) -> Vault:
    """A vault of the lab subscription: quick-created, then set to ``replication`` by its administrator.

    Locally Redundant unless a test asks for Geo-Redundant, so that only the tests about the paired region's copy
    start Replicate jobs.
    """
    return quick_vault(owner, subscription, name, region, replication)


def protect(user, vault: Vault, service: str, name: str, *, runner=run) -> ProtectedItem:
    """Discover, register and protect one lab VM (DefaultPolicy)."""
    return protect_vm(user, vault, service, name, runner=runner)


def back_up(user, item: ProtectedItem, *, runner=run) -> Job:
    return runner(Backup.start(user, item))


PUT_PAGE_LIMIT = 4 << 20  # the most one Put Page may carry


def write(subscription, url: str, offset: int, data: bytes) -> None:
    """The workload writes ``data`` at ``offset``, in Put Pages of at most 4 MiB as the storage service takes them."""
    client = blob_client(subscription.endpoint)
    for at in range(0, len(data), PUT_PAGE_LIMIT):
        client.write_pages(url, offset + at, data[at:at + PUT_PAGE_LIMIT])


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
