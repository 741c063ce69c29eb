"""A vault store whose filesystem fills up mid-backup (a real, small filesystem: tmpfs).

The job fails with VaultStoreFull and says what to do; no point and nothing half-written is left; the earlier
point still restores whole; once there is room again, the next backup is whole.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from jobs.models import Status
from vaults.cloud.pageblob import blob_client
from vaults.models import ProtectedItem, Vault
from vaults.operations.backup import Backup
from vaults.services.storage import open_store

from .helpers import finished, leftovers, protected, quick_created_vault, whole

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def small_filesystem(tmp_path):
    """A 24 MiB tmpfs, made bigger by ``grow()``; the case is skipped, saying why, where mounting is refused."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"this machine cannot mount a small filesystem: {made.stderr.strip()}")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)

    try:
        yield mount, grow
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_vault_store_fails_the_backup_clearly_and_loses_nothing(small_filesystem, fault_fabric, fault_worker,
                                                                      to_fault_workers, subscription, owner, member,
                                                                      settings):
    mount, grow = small_filesystem
    settings.VAULT_STORE_DIR = mount
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    fault_worker("full-store", VAULT_STORE_DIR=str(mount))
    vault = quick_created_vault(owner, subscription, "full-store", replication=Vault.Replication.LRS)
    [item] = protected(member, vault, [("scale-0000", "vm04")])
    first = finished(Backup.start(member, item), 120)
    assert first.status == Status.COMPLETED, first.error_message

    os_disk = next(d for d in item.item.vm.disks if d["lun"] is None)
    blobs = blob_client(subscription.endpoint)
    for offset in range(0, 40 << 20, 4 << 20):  # 40 MiB of data nothing compresses: more than the store has room for
        blobs.write_pages(os_disk["media_link"], offset, os.urandom(4 << 20))
    full = finished(Backup.start(member, item), 120)
    assert full.status == Status.FAILED and full.error_code == "VaultStoreFull"
    assert full.error_message.startswith("The vault's storage is full")
    assert "Existing recovery points are intact" in full.recommendations[0]
    store = open_store(vault)
    assert item.recovery_points.count() == 1 and len(store.point_ids()) == 1
    assert leftovers(store) == []
    item.refresh_from_db()
    assert item.status == ProtectedItem.Status.ERROR and item.error_message == full.error_message
    assert whole(store, item)

    grow()
    again = finished(Backup.start(member, item), 120)
    assert again.status == Status.COMPLETED, again.error_message
    assert item.recovery_points.count() == 2 and whole(open_store(vault), item)
