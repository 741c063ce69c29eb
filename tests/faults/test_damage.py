"""Damage in the store, then the next backup, on real workers: the backup heals, never builds on the damage.

And the whole Geo-Redundant path of a vault made with quick create: the backup's Replicate job fills the paired
region's copy, a restore reads a chunk the primary copy lost from it, and Verify repairs the primary copy.
"""

from __future__ import annotations

import shutil

import pytest

from jobs.models import Job, Operation, Status
from tests.fixtures.store import damage_chunk
from vaults.models import Vault
from vaults.operations.backup import Backup
from vaults.operations.maintenance import Verify
from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest
from vaults.services.storage import open_store, secondary_store
from vaultstore import VaultStore

from .helpers import finished, leftovers, protected, quick_created_vault, whole

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(fault_fabric, fault_worker, to_fault_workers, subscription):
    subscription.subscription_id, subscription.host = fault_fabric.subscription_id, fault_fabric.host
    subscription.save()
    fault_worker("damage")
    made: list[Vault] = []
    yield made
    for vault in made:
        shutil.rmtree(vault.store_path, ignore_errors=True)
        if (copy := secondary_store(vault)) is not None:
            shutil.rmtree(copy.path, ignore_errors=True)


def _vault(lab: list[Vault], owner, subscription, name: str, replication: str) -> Vault:
    vault = quick_created_vault(owner, subscription, name, replication=replication)
    lab.append(vault)
    return vault


def _first_chunk(store: VaultStore, point_id: str) -> str:
    return next(chunk for disk in store.load_point(point_id).disks for chunk in disk.chunks if chunk)


def test_a_corrupted_chunk_then_a_backup_heals_the_item(lab, subscription, owner, member):
    vault = _vault(lab, owner, subscription, "damaged-chunk", Vault.Replication.LRS)
    [item] = protected(member, vault, [("scale-0000", "vm01")])
    assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
    point = item.recovery_points.get()
    store = open_store(vault)
    damage_chunk(store, _first_chunk(store, point.store_point_id))

    verify = finished(Verify.start_for(member, vault))
    assert verify.status == Status.FAILED and verify.error_code == "VaultDataCorrupted"
    assert "take a new backup" in verify.recommendations[0]

    healing = finished(Backup.start(member, item), 120)  # the disk did not change: only the damage is read again
    assert healing.status == Status.COMPLETED, healing.error_message
    assert healing.properties["Chunks re-read to heal"] == 1
    store = open_store(vault)
    assert leftovers(store) == [] and whole(store, item)  # every point, the damaged one included, is whole again
    assert finished(Verify.start_for(member, vault)).status == Status.COMPLETED


def test_a_corrupted_pack_index_then_a_backup_loses_nothing(lab, subscription, owner, member):
    vault = _vault(lab, owner, subscription, "damaged-index", Vault.Replication.LRS)
    [item] = protected(member, vault, [("scale-0000", "vm02")])
    assert finished(Backup.start(member, item), 120).status == Status.COMPLETED
    store = open_store(vault)
    [pack] = store.chunks.packs()
    with open(pack.path, "r+b") as handle:  # one bit of the index flipped
        handle.seek(pack.size - 60)
        byte = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([byte ^ 0x01]))

    again = finished(Backup.start(member, item), 120)
    assert again.status == Status.COMPLETED, again.error_message
    assert "Chunks re-read to heal" not in again.properties  # the index was rebuilt: no chunk was lost
    verify = finished(Verify.start_for(member, vault))
    assert verify.status == Status.COMPLETED_WITH_WARNINGS
    assert pack.id in verify.properties["Warnings"][0] and "rebuilt" in verify.properties["Warnings"][0]
    assert whole(open_store(vault), item)


def test_the_geo_redundant_round_trip_of_a_quick_created_vault(lab, subscription, owner, member):
    vault = _vault(lab, owner, subscription, "grs-round-trip", "")
    assert vault.replication == Vault.Replication.GRS  # quick create's default
    [item] = protected(member, vault, [("scale-0000", "vm03")])
    backup = finished(Backup.start(member, item), 120)
    assert backup.status == Status.COMPLETED, backup.error_message
    replicate = finished(Job.objects.filter(vault=vault, operation=Operation.REPLICATE).latest("pk"))
    assert replicate.status == Status.COMPLETED, replicate.error_message
    point = item.recovery_points.get()
    assert secondary_store(vault).point_ids() == [point.store_point_id]

    store = open_store(vault)
    damage_chunk(store, _first_chunk(store, point.store_point_id))
    restore = finished(Restore.start(member, point, RestoreRequest("grsback", "scale-0000", False, "labstoreeastus")),
                       120)
    assert restore.status == Status.COMPLETED, restore.error_message
    assert restore.properties["Chunks read from the secondary copy"] >= 1
    assert restore.properties["Digests verified"] == len(point.disks)

    verify = finished(Verify.start_for(member, vault))
    assert verify.status == Status.COMPLETED_WITH_WARNINGS, verify.error_message
    assert verify.properties["Chunks repaired"] >= 1
    assert open_store(vault).verify().ok
