"""Setting a vault up as a user does, with the jobs run on the fault workers."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from jobs.models import Job, Operation
from vaults.models import ProtectedItem, RegisteredItem, Subscription, User, Vault, VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.protection import ConfigureProtection
from vaults.operations.registration import Register
from vaults.services.vaults import create_vault, set_replication
from vaultstore import VaultStore


def finished(job: Job, timeout: float = 60) -> Job:
    """Wait until a job ends (a worker runs it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} ({job.operation}) still {job.status} after {timeout:.0f} s")


def quick_created_vault(owner: User, subscription: Subscription, name: str, *, replication: str = "") -> Vault:
    vault = create_vault(owner, subscription, name, "East US")
    if replication:
        vault = set_replication(owner, vault, replication)
    return vault


def protected(operator: User, vault: Vault, names: list[tuple[str, str]]) -> list[ProtectedItem]:
    """Discover, register and protect (DefaultPolicy) the VMs ``names`` [(cloud service, name)]."""
    assert finished(Discovery.start(operator, vault)).status == "completed"
    vms = [VirtualMachine.objects.get(subscription=vault.subscription, cloud_service=svc, name=vm) for svc, vm in names]
    outcomes = Register.start_many(operator, vault, [vm.pk for vm in vms])
    assert [o.refusal for o in outcomes] == [""] * len(vms)
    for outcome in outcomes:
        job = Job.objects.filter(item_key=outcome.item.item_key, operation=Operation.REGISTER).latest("pk")
        assert finished(job).status == "completed", job.error_message
    registered = [RegisteredItem.objects.get(vm=vm).pk for vm in vms]
    started, refusals = ConfigureProtection.protect(operator, vault, registered, vault.policies.get())
    assert (started, refusals) == (len(vms), [])
    for vm in vms:
        job = Job.objects.filter(item_key=RegisteredItem.key_of(vm.pk),
                                 operation=Operation.CONFIGURE_PROTECTION).latest("pk")
        assert finished(job).status == "completed", job.error_message
    return [ProtectedItem.objects.get(item__vm=vm) for vm in vms]


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
