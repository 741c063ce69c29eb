"""The engine through the real page-blob client against the lab fabric process: backup, incremental, restore."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.fixtures.fabric import start_lab_fabric, stop_lab_fabric
from tests.fixtures.store import TEST_CHUNK
from vaults.cloud.pageblob import PageBlobClient
from vaultstore import PageBlobSink, PageBlobSource, measure_digest

pytestmark = pytest.mark.integration
MIB = 1 << 20


@pytest.fixture(scope="module")
def store_fabric(tmp_path_factory):
    """A fabric of these tests' own (in a temp directory): faults switched on here must not reach other suites."""
    fabric = start_lab_fabric(tmp_path_factory.mktemp("store-fabric"), vms=1, log_name="fabric-store-tests.log")
    try:
        yield fabric
    finally:
        stop_lab_fabric(fabric)


def test_back_up_a_lab_disk_incrementally_through_5xx_and_restore_it_into_a_new_blob(store_fabric, vault_store):
    client = PageBlobClient()
    url = f"{store_fabric.base_url}/labstoreeastus/tests/store-{secrets.token_hex(4)}.vhd"
    client.create(url, 8 * MIB)
    client.write_pages(url, 0, os.urandom(MIB))
    client.write_pages(url, 5 * MIB, b"backup vault recovery point\n" * 9362 + bytes(8))
    first = client.snapshot(url)
    base = vault_store.back_up([("os", PageBlobSource(client, url, first))])

    client.write_pages(url, 512 * 1024, os.urandom(64 * 1024))
    client.clear_pages(url, 5 * MIB, 4096)  # a cleared range is a change too, and reads as zeros now
    second = client.snapshot(url)
    store_fabric.set_faults(error_next=2)  # the fabric answers 5xx twice during the transfer: retried, not fatal
    point = vault_store.back_up([("os", PageBlobSource(client, url, second, prev_snapshot=first))], previous=base)
    assert point.disks[0].incremental
    assert point.disks[0].read_bytes == 64 * 1024 + 4096

    target = url.replace(".vhd", "-restored.vhd")
    vault_store.restore_disk(point.disks[0], PageBlobSink(client, target))
    assert client.read(target, 0, 8 * MIB) == client.read(url, 0, 8 * MIB, snapshot=second)
    restored = PageBlobSource(client, target, client.snapshot(target))
    assert measure_digest(restored, TEST_CHUNK, name_of=vault_store.chunks.name_of) == point.disks[0].digest
