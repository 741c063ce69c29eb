"""Seeding labs, the workload tools and the shared ``lab_fabric`` fixture."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.management import call_command

from fabric import lab
from fabric.app import FabricApp
from vaults.cloud.pageblob import PageBlobClient

MIB = 1 << 20


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("fabric", *args, stdout=out)
    return out.getvalue()


def test_seed_prints_subscription_and_if_empty_keeps_the_lab(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert run("seed", "--subscription-id", "11111111-2222-3333-4444-555555555555").strip() == (
        "11111111-2222-3333-4444-555555555555")
    marker = tmp_path / "fabric" / "compute.json"
    before = marker.stat().st_mtime_ns
    assert run("seed", "--if-empty").strip() == "11111111-2222-3333-4444-555555555555"
    assert marker.stat().st_mtime_ns == before


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_five_thousand_vms_seed_within_a_minute_and_serve(tmp_path):
    from starlette.testclient import TestClient

    started = time.monotonic()
    subscription = lab.seed(tmp_path, vms=5000)
    assert time.monotonic() - started < 60
    with TestClient(FabricApp(tmp_path)) as client:
        answer = client.get(f"/{subscription}/services/hostedservices", headers={"x-ms-version": "2014-10-01"})
        assert answer.status_code == 200
        lab_vms = sum(len(members) for _, _, members in lab.LAB)
        assert answer.text.count("<HostedService>") == len(lab.LAB) + -(-(5000 - lab_vms) // 10)
        detail = client.get(f"/{subscription}/services/hostedservices/scale-0100", params={"embed-detail": "true"},
                            headers={"x-ms-version": "2014-10-01"})
        assert detail.text.count("<RoleInstance>") == 10


@pytest.mark.integration
def test_churn_writes_through_the_page_api(own_fabric, sms):
    disks = PageBlobClient()
    url = sms.get_role("northwind-eu", "northwind-eu", "web01").os_virtual_hard_disk.media_link
    before = disks.snapshot(url)
    output = run("churn", "northwind-eu/web01", "--percent", "10", "--seed", "7", "--url", own_fabric.base_url,
                 "--subscription-id", own_fabric.subscription_id)
    written = int(output.split()[1])
    changed = disks.page_ranges(url, prev_snapshot=before)
    assert written > 0 and changed
    assert sum(end - start for start, end in changed) <= written


@pytest.mark.integration
def test_import_disk_loads_an_image_sparsely(own_fabric, sms, tmp_path):
    image = tmp_path / "disk.raw"
    # A boot block, 12 MiB never written, a tail; and inside one 4 MiB stretch, data with a zero hole in between.
    content = (b"boot" * 1024 + bytes(12 * MIB - 4096) + b"tail" * 256 + bytes(MIB - 1024)
               + b"a" * 65536 + bytes(2 * 65536) + b"b" * 4096)
    image.write_bytes(content)
    run("import-disk", "northwind-eu/files01", "1", str(image), "--url", own_fabric.base_url,
        "--subscription-id", own_fabric.subscription_id)
    url = sms.get_role("northwind-eu", "northwind-eu", "files01").data_virtual_hard_disks[1].media_link
    disks = PageBlobClient()
    assert disks.read(url, 0, len(content)) == content
    # Zero stretches (per 64 KiB) are cleared, not written, and the rest of the disk is cleared too: the disk's
    # page ranges are the image's data, not the 4 MiB pieces it was read in.
    assert disks.page_ranges(url) == [(0, 65536), (12 * MIB, 12 * MIB + 65536),
                                      (13 * MIB, 13 * MIB + 65536), (13 * MIB + 3 * 65536, 13 * MIB + 3 * 65536 + 4096)]


@pytest.mark.integration
def test_fault_command_switches_faults(own_fabric):
    shown = json.loads(run("fault", "--latency-ms", "5", "--snapshot-hang", "a/b", "--url", own_fabric.base_url))
    assert (shown["latency_ms"], shown["snapshot_hang"]) == (5, ["a/b"])
    cleared = json.loads(run("fault", "--clear", "--url", own_fabric.base_url))
    assert cleared["latency_ms"] == 0


@pytest.mark.integration
def test_shared_lab_fabric_fixture_serves_the_lab(lab_fabric, fabric_faults):
    sms = lab_fabric.sms()
    assert len(sms.list_hosted_services()) == len(lab.LAB)
    assert fabric_faults(latency_ms=1)["latency_ms"] == 1


def test_snapshot_in_flight_completes_after_a_restart(tmp_path):
    from fabric.state import Compute

    subscription = lab.seed(tmp_path)
    compute = Compute.load(tmp_path / "compute.json")
    role = compute.doc["subscriptions"][subscription]["services"]["contoso-web"]["deployments"]["contoso-web"]["roles"]["web01"]
    role["extensions"] = [{"publisher": "Microsoft.Azure.RecoveryServices", "name": "VMSnapshot", "version": "1.0"}]
    role["extension_status"] = {"Microsoft.Azure.RecoveryServices.VMSnapshot": {
        "status": "Ready", "code": 0, "message": "", "setting": {
            "name": "task-1", "operation": "Snapshot", "status": "transitioning", "code": 0, "message": "",
            "timestamp": "", "substatus": []}}}
    compute.save()
    app = FabricApp(tmp_path, agent_delay=0)
    app.compute.tick()
    restarted = app.compute.find_vm(subscription, "contoso-web/web01")[2]
    setting = restarted["extension_status"]["Microsoft.Azure.RecoveryServices.VMSnapshot"]["setting"]
    assert setting["status"] == "success"
    result = json.loads(setting["substatus"][0]["message"])
    assert len(result["snapshots"]) == 2
    app.disks.close()
