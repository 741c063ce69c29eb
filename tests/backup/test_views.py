"""The Protected Items commands: BACKUP NOW, the restore wizard, STOP PROTECTION, DELETE, VERIFY.

The protected item is made as a person makes it, on the lab fabric; the pages are then asked for here and the jobs
they start are not run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from jobs.models import Job, Operation
from vaults.cloud.compute import Subnet, VirtualNetwork
from vaults.cloud.errors import FabricError
from vaults.models import RecoveryPoint
from vaults.services import restore as restore_service

from .helpers import lab_vault, protect

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def vault(lab_subscription, owner):
    return lab_vault(owner, lab_subscription, name="contoso-east")


@pytest.fixture
def item(vault, member):
    """contoso-web/web01, protected and waiting for its initial backup."""
    return protect(member, vault, "contoso-web", "web01")


@pytest.fixture
def started(item):
    """started() -> the jobs the test's requests started (not the ones that made the item)."""
    made = list(Job.objects.values_list("pk", flat=True))
    return lambda: Job.objects.exclude(pk__in=made)


def point(item, when: datetime) -> RecoveryPoint:
    return RecoveryPoint.objects.create(protected_item=item, created=when, consistency="application",
                                        store_point_id=f"p{when:%d%H}", disks=[])


def test_backup_now_starts_one_backup_job(client, member, vault, item):
    client.force_login(member)
    url = reverse("vaults:backup_now", args=[vault.pk])
    assert client.post(url, {"items": str(item.pk)}).status_code == 204
    job = Job.objects.get(operation=Operation.BACKUP)
    assert job.params == {"protected_item": item.pk, "slot": "", "adhoc": True}
    assert job.item_key == item.item.item_key and job.task_name == "vaults.backup"
    answer = client.post(url, {"items": str(item.pk)})
    assert "Another operation is in progress" in answer["HX-Trigger"]
    assert Job.objects.filter(operation=Operation.BACKUP).count() == 1


def test_readers_cannot_back_up_and_outsiders_see_nothing(client, reader, outsider, vault, item, started):
    client.force_login(reader)
    answer = client.post(reverse("vaults:backup_now", args=[vault.pk]), {"items": str(item.pk)})
    assert "Only Backup Operators" in answer["HX-Trigger"] and not started().exists()
    client.force_login(outsider)
    assert client.post(reverse("vaults:backup_now", args=[vault.pk]), {"items": str(item.pk)}).status_code == 404
    assert client.get(reverse("vaults:restore_dialog", args=[vault.pk]), {"items": str(item.pk)}).status_code == 404


def test_the_command_bar_is_on_the_protected_items_page(client, member, vault, item):
    client.force_login(member)
    page = client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert 'id="cmd-backup-now"' in page and 'id="cmd-restore"' in page and 'id="cmd-stop-protection"' in page
    assert 'id="cmd-delete-data"' not in page  # administrators only


def test_restore_wizard_shades_days_with_points_and_lists_that_days_points(client, member, vault, item):
    point(item, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    newest = point(item, datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    point(item, datetime(2026, 3, 9, 15, 30, tzinfo=UTC))
    newest = item.recovery_points.order_by("-created").first()
    client.force_login(member)
    page = client.get(reverse("vaults:restore_dialog", args=[vault.pk]), {"items": str(item.pk)}).content.decode()
    assert "March 2026" in page
    assert page.count('class=" has-points') + page.count('class=" has-points selected') >= 1
    assert 'data-day="2026-03-02"' in page and 'data-day="2026-03-09"' in page and 'data-day="2026-03-03"' not in page
    assert "15:30:00" in page and "03:00:00" in page and "Application consistent" in page
    assert f'value="{newest.pk}" checked' in page
    url = reverse("vaults:restore", args=[vault.pk])
    page = client.post(url, {"item": item.pk, "nav": "day", "day": "2026-03-02"}).content.decode()
    assert "03:00:00" in page and "15:30:00" not in page
    page = client.post(url, {"item": item.pk, "nav": "next", "point": newest.pk}).content.decode()
    assert "Step 2 of 2" in page and 'data-page="2" ' in page
    page = client.post(url, {"item": item.pk, "nav": "finish", "page": "2", "point": newest.pk, "vm_name": "web01",
                             "service_choice": "existing", "existing_service": "svc-a",
                             "storage_account": "nowhere"}).content.decode()
    assert "already exists in cloud service" in page or "does not exist" in page
    assert not Job.objects.filter(operation=Operation.RESTORE).exists()


@pytest.fixture
def networks(monkeypatch):
    """The subscription's networks as the fabric would list them: two in the vault's region, one elsewhere."""
    listed = [VirtualNetwork("contoso-vnet", "East US", ("10.1.0.0/16",),
                             (Subnet("frontend", "10.1.1.0/24"), Subnet("backend", "10.1.2.0/24"))),
              VirtualNetwork("tailspin-vnet", "East US", ("10.2.0.0/16",), (Subnet("Subnet-1", "10.2.0.0/24"),)),
              VirtualNetwork("fabrikam-vnet", "West US", ("10.3.0.0/16",), (Subnet("app", "10.3.1.0/24"),))]
    monkeypatch.setattr(restore_service, "list_virtual_networks", lambda endpoint: listed)
    return listed


def finish(client, vault, item, **values):
    """FINISH on page 2, with a storage account of the vault's region (the one the item's disk is in)."""
    assert any("/labstoreeastus/" in disk["media_link"] for disk in item.item.vm.disks)
    newest = item.recovery_points.order_by("-created").first()
    return client.post(reverse("vaults:restore", args=[vault.pk]), {
        "item": item.pk, "nav": "finish", "page": "2", "point": newest.pk, "vm_name": "web01r", "service_choice": "existing",
        "existing_service": "svc-a", "storage_account": "labstoreeastus", **values}).content.decode()


def test_restore_wizard_offers_the_regions_networks_and_the_chosen_networks_subnets(client, member, vault, item, networks,
                                                                                    started):
    newest = point(item, datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    client.force_login(member)
    url = reverse("vaults:restore", args=[vault.pk])
    page = client.post(url, {"item": item.pk, "nav": "next", "point": newest.pk}).content.decode()
    assert '<option value="contoso-vnet" >contoso-vnet (10.1.0.0/16)</option>' in page
    assert '<option value="tailspin-vnet" >' in page
    assert "fabrikam-vnet" not in page  # another region than the vault's
    assert 'id="restore-subnet" disabled' in page and 'hx-vals=\'{"nav": "network"}\'' in page
    page = client.post(url, {"item": item.pk, "nav": "network", "page": "2", "point": newest.pk,
                             "virtual_network": "contoso-vnet", "subnet": "stale"}).content.decode()
    assert '<option value="contoso-vnet" selected>' in page and "Step 2 of 2" in page
    assert '<option value="frontend" >frontend (10.1.1.0/24)</option>' in page and '<option value="backend" >' in page
    assert "Subnet-1" not in page
    assert not started().exists()


def test_restore_wizard_refuses_a_subnet_or_network_that_does_not_exist(client, member, vault, item, networks):
    point(item, datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    client.force_login(member)
    page = finish(client, vault, item, virtual_network="contoso-vnet", subnet="Subnet-1")
    assert "The subnet &#x27;Subnet-1&#x27; does not exist in virtual network &#x27;contoso-vnet&#x27;." in page
    assert 'id="err-subnet"><span>' in page
    page = finish(client, vault, item, virtual_network="fabrikam-vnet", subnet="app")
    assert "The virtual network &#x27;fabrikam-vnet&#x27; does not exist in East US." in page
    page = finish(client, vault, item, virtual_network="contoso-vnet")
    assert "Choose a subnet of virtual network &#x27;contoso-vnet&#x27;." in page
    page = finish(client, vault, item, subnet="frontend")
    assert "Choose the virtual network of subnet &#x27;frontend&#x27;" in page
    assert not Job.objects.filter(operation=Operation.RESTORE).exists()


def test_restore_wizard_says_so_when_the_networks_cannot_be_listed(client, member, vault, item, monkeypatch):
    def down(endpoint):
        raise FabricError("Could not connect to the endpoint at 127.0.0.1:8100. Check that it is running and that the "
                          "subscription's host is right.", transient=True)

    monkeypatch.setattr(restore_service, "list_virtual_networks", down)
    newest = point(item, datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    client.force_login(member)
    answer = client.post(reverse("vaults:restore", args=[vault.pk]), {"item": item.pk, "nav": "next", "point": newest.pk})
    assert answer.status_code == 200
    assert "The virtual networks could not be listed. Could not connect to the endpoint" in answer.content.decode()
    page = finish(client, vault, item, virtual_network="contoso-vnet", subnet="frontend")
    assert "The restore target could not be checked. Could not connect to the endpoint" in page
    assert not Job.objects.filter(operation=Operation.RESTORE).exists()


def test_stop_protection_keeps_or_deletes_data_by_role(client, member, owner, vault, item):
    client.force_login(member)
    page = client.get(reverse("vaults:stop_dialog", args=[vault.pk]), {"items": str(item.pk)}).content.decode()
    assert "Stop protection of 'web01 (contoso-web)'" in page and 'name="delete_data"' in page
    assert 'id="stop-delete-data" disabled' in page
    answer = client.post(reverse("vaults:stop", args=[vault.pk]), {"item": item.pk, "delete_data": "on"})
    assert "Only Backup Administrators" in answer["HX-Trigger"]
    client.post(reverse("vaults:stop", args=[vault.pk]), {"item": item.pk, "reason": "Other", "comment": "bye"})
    job = Job.objects.get(operation=Operation.STOP_PROTECTION)
    assert job.params["reason"] == "Other"
    client.force_login(owner)
    answer = client.post(reverse("vaults:delete_data", args=[vault.pk]), {"item": item.pk})
    assert "STOP PROTECTION first" in answer["HX-Trigger"]


def test_every_command_requires_sign_in(client, vault, item, started):
    for name in ("backup_now", "restore_dialog", "restore", "stop_dialog", "stop", "delete_data", "verify"):
        answer = client.post(reverse(f"vaults:{name}", args=[vault.pk]), {"items": str(item.pk)})
        assert answer.status_code == 302 and "/login" in answer["Location"], name
    assert not started().exists()
