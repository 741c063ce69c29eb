"""Setting a vault up as a user does, with the jobs run on the fault workers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from jobs.models import Job
from tests.fixtures.vaults import protect_vm, quick_vault, wait_for_job
from vaults.models import ProtectedItem, Subscription, User, Vault
from vaultstore import VaultStore


def finished(job: Job, timeout: float = 60) -> Job:
    """Wait until a job ends (a fault worker runs it)."""
    return wait_for_job(job, timeout)


def quick_created_vault(owner: User, subscription: Subscription, name: str, *, replication: str = "") -> Vault:
    """QUICK CREATE in East US (Geo-Redundant), then ``replication`` chosen on the vault's settings."""
    return quick_vault(owner, subscription, name, "East US", replication or None)


def protected(operator: User, vault: Vault, names: list[tuple[str, str]]) -> list[ProtectedItem]:
    """Discover, register and protect (DefaultPolicy) the VMs ``names`` [(cloud service, name)], the jobs run by the
    fault workers."""
    return [protect_vm(operator, vault, service, name, runner=finished) for service, name in names]


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (a worker's pool processes)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def writing_to(pids: list[int], directory: Path) -> list[int]:
    """Those of ``pids`` that have a file under ``directory`` open (the pool process running a backup)."""
    holding = []
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if any(str(Path(os.readlink(fd))).startswith(str(directory)) for fd in Path(f"/proc/{pid}/fd").iterdir()
                   if fd.is_symlink()):
                holding.append(pid)
    return holding


def leftovers(store: VaultStore) -> list[str]:
    """What an interrupted backup could leave behind: temp files and pending records."""
    return sorted(str(path) for path in [*store.path.rglob(".*.tmp"), *store.pending_dir.iterdir()])


class Discard:
    """A restore target that keeps nothing: the restore still reads, decompresses and hashes every chunk, and
    refuses a disk whose digest differs from the one recorded at backup time."""

    def begin(self, size: int) -> None:
        self.size = size

    def write(self, offset: int, pieces: object) -> None:
        pass

    def finish(self) -> None:
        pass

    def discard(self) -> None:
        pass


def whole(store: VaultStore, item: ProtectedItem) -> bool:
    """Every point of the item restores to the digest recorded at backup time (restore proves it) and verify finds
    no damage."""
    for row in item.recovery_points.all():
        point = store.load_point(row.store_point_id)
        for disk in point.disks:
            store.restore_disk(disk, Discard())
    return store.verify().ok
