"""The page-blob API over real HTTP, through the portal's client and raw requests for the error shapes."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
import requests

from vaults.cloud.pageblob import PageBlobClient, PageBlobError

pytestmark = pytest.mark.integration
MIB = 1 << 20


@pytest.fixture
def disks() -> PageBlobClient:
    return PageBlobClient()


@pytest.fixture
def blob(own_fabric, disks, request) -> str:
    url = f"{own_fabric.base_url}/labstoreeastus/tests/{request.node.name}.vhd"
    disks.create(url, 16 * MIB)
    return url


def cleared_ranges(url: str, snapshot: str, prev_snapshot: str) -> list[tuple[int, int]]:
    """Only the ClearRange entries of the diff, read with a raw request (the client merges them into its ranges)."""
    answer = requests.get(url, params={"comp": "pagelist", "snapshot": snapshot, "prevsnapshot": prev_snapshot}, timeout=5)
    answer.raise_for_status()
    root = ElementTree.fromstring(answer.content)  # noqa: S314 - the lab fabric's own answer
    return [(int(node.findtext("Start")), int(node.findtext("End")) + 1) for node in root if node.tag == "ClearRange"]


def test_new_blob_reads_as_zeros_and_has_no_ranges(disks, blob):
    assert disks.size(blob) == 16 * MIB
    assert disks.page_ranges(blob) == []
    assert disks.read(blob, 5 * MIB, 4096) == bytes(4096)


def test_written_pages_read_back_and_are_listed(disks, blob):
    disks.write_pages(blob, MIB, b"a" * 8192)
    disks.write_pages(blob, MIB + 8192, b"b" * 512)
    assert disks.read(blob, MIB, 8704) == b"a" * 8192 + b"b" * 512
    assert disks.page_ranges(blob) == [(MIB, MIB + 8704)]


def test_snapshot_keeps_old_bytes_and_diff_lists_exactly_the_changed_pages(disks, blob):
    disks.write_pages(blob, 0, b"1" * 65536 * 2)
    first = disks.snapshot(blob)
    disks.write_pages(blob, 65536 - 512, b"2" * 1024)  # straddles two extents
    disks.clear_pages(blob, 4096, 512)
    second = disks.snapshot(blob)
    assert disks.read(blob, 65536 - 512, 1024, snapshot=first) == b"1" * 1024
    assert disks.read(blob, 65536 - 512, 1024, snapshot=second) == b"2" * 1024
    assert disks.page_ranges(blob, snapshot=second, prev_snapshot=first) == [(4096, 4608), (65024, 66048)]
    assert cleared_ranges(blob, second, first) == [(4096, 4608)]
    assert disks.page_ranges(blob, snapshot=first) == [(0, 131072)]
    disks.delete_snapshot(blob, first)
    with pytest.raises(PageBlobError) as gone:
        disks.read(blob, 0, 512, snapshot=first)
    assert (gone.value.status, gone.value.code, gone.value.transient) == (404, "BlobNotFound", False)
    assert disks.read(blob, 0, 512, snapshot=second) == b"1" * 512


def test_misaligned_write_is_refused_with_invalid_header_value(own_fabric, blob):
    answer = requests.put(blob, params={"comp": "page"}, data=b"x" * 100, timeout=5,
                          headers={"x-ms-range": "bytes=0-99", "x-ms-page-write": "update"})
    assert answer.status_code == 400
    assert answer.headers["x-ms-error-code"] == "InvalidHeaderValue"
    assert "<HeaderName>x-ms-range</HeaderName>" in answer.text


def test_write_past_the_end_is_an_invalid_page_range(disks, blob):
    with pytest.raises(PageBlobError) as refused:
        disks.write_pages(blob, 16 * MIB, b"x" * 512)
    assert (refused.value.status, refused.value.code) == (416, "InvalidPageRange")


def test_range_header_works_like_x_ms_range(blob, disks):
    disks.write_pages(blob, 0, bytes(range(256)) * 4)
    answer = requests.get(blob, headers={"Range": "bytes=256-511"}, timeout=5)
    assert answer.status_code == 206
    assert answer.content == bytes(range(256))
    assert answer.headers["Content-Range"] == f"bytes 256-511/{16 * MIB}"


def test_unknown_blob_and_account(own_fabric, disks):
    with pytest.raises(PageBlobError) as missing:
        disks.size(f"{own_fabric.base_url}/labstoreeastus/tests/nothing.vhd")
    assert missing.value.status == 404
    with pytest.raises(PageBlobError):
        disks.create(f"{own_fabric.base_url}/nosuchaccount/vhds/x.vhd", MIB)


def test_blob_with_snapshots_is_not_deleted_by_accident(blob, disks):
    disks.snapshot(blob)
    answer = requests.delete(blob, timeout=5)
    assert (answer.status_code, answer.headers["x-ms-error-code"]) == (409, "SnapshotsPresent")


def test_lab_disks_hold_real_sparse_bytes(own_fabric, sms, disks):
    role = sms.get_role("contoso-web", "contoso-web", "web01")
    url = role.os_virtual_hard_disk.media_link
    ranges = disks.page_ranges(url)
    used = sum(end - start for start, end in ranges)
    assert 0 < used < disks.size(url) // 1000
    first = disks.read(url, ranges[0][0], 4096)
    assert first != bytes(4096)
    text = disks.read(url, MIB, 4096)
    assert text.decode("ascii").count("\n") > 10


def test_connection_failure_is_transient_and_says_so_in_a_sentence():
    client = PageBlobClient(timeout=1)
    url = "http://127.0.0.1:9/labstoreeastus/vhds/x.vhd"
    for call in (lambda: client.size(url), lambda: client.read(url, 0, 512)):  # through requests, and http.client
        with pytest.raises(PageBlobError) as failed:
            call()
        assert failed.value.transient
        assert str(failed.value) == ("Could not connect to the disk storage at 127.0.0.1:9. Check that it is running "
                                     "and reachable.")


def test_a_storage_endpoint_that_answers_too_late_or_hangs_up_is_named():
    import http.client

    from vaults.cloud.pageblob import unreachable

    assert str(unreachable("host:1", TimeoutError("timed out"))) == "The disk storage at host:1 did not answer in time."
    assert str(unreachable("host:1", requests.ReadTimeout())) == "The disk storage at host:1 did not answer in time."
    assert str(unreachable("host:1", http.client.RemoteDisconnected("closed"))) == (
        "The connection to the disk storage at host:1 broke off (RemoteDisconnected).")


def test_clearing_a_large_range_visits_only_written_extents(disks, blob):
    for offset in (0, 5 * MIB, 15 * MIB):
        disks.write_pages(blob, offset, b"z" * 4096)
    disks.clear_pages(blob, 512, 16 * MIB - 512)
    assert disks.page_ranges(blob) == [(0, 512)]
    assert disks.read(blob, 5 * MIB, 4096) == bytes(4096)


def test_disk_attached_to_a_vm_cannot_be_deleted_or_replaced(sms):
    url = sms.get_role("contoso-web", "contoso-web", "web01").os_virtual_hard_disk.media_link
    answer = requests.delete(url, headers={"x-ms-delete-snapshots": "include"}, timeout=5)
    assert (answer.status_code, answer.headers["x-ms-error-code"]) == (412, "LeaseIdMissing")
    with pytest.raises(PageBlobError) as leased:
        PageBlobClient().create(url, MIB)
    assert leased.value.status == 412


def test_paths_that_climb_out_of_the_store_are_refused(own_fabric):
    answer = requests.get(f"{own_fabric.base_url}/labstoreeastus/vhds/%2e%2e/%2e%2e/compute.json", timeout=5)
    assert answer.status_code == 400
    assert answer.headers["x-ms-error-code"] == "InvalidUri"
