"""Encryption at rest from the portal's side: new vaults encrypt, keys are wrapped, exported and imported."""

from __future__ import annotations

import json
import stat

import pytest
from django.conf import settings
from django.urls import reverse

from jobs.models import Job, OperationLogEntry, Status
from vaults.models import Vault
from vaults.operations.restore import Restore
from vaults.services import keys
from vaults.services.refusals import InvalidRequest, NotAllowed, NotNow
from vaults.services.restore import RestoreRequest
from vaults.services.storage import open_store, secondary_store
from vaultstore import StoreKey

from .helpers import back_up, lab_vault, protect, run, same_bytes, write

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# What a file on the VM's disk says; it must never be readable in the vault's store.
SECRET = b"Contoso payroll 2026: salaries of the board, do not share. "


def _files_holding(root, needle: bytes) -> list[str]:
    return sorted(str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes())


@pytest.fixture
def grs_vault(lab_subscription, owner):
    return lab_vault(owner, lab_subscription, "North Europe", "eu", replication=Vault.Replication.GRS)


def test_a_new_vault_has_its_own_wrapped_key_and_the_master_key_file_is_private(grs_vault, lab_subscription, owner):
    other = lab_vault(owner, lab_subscription, "East US", "other")
    assert grs_vault.wrapped_key.startswith("v1:") and len(grs_vault.key_fingerprint) == 64
    assert grs_vault.key_fingerprint != other.key_fingerprint
    assert keys.vault_key(grs_vault).fingerprint == grs_vault.key_fingerprint
    assert keys.vault_key(grs_vault).secret.hex() not in grs_vault.wrapped_key
    if not settings.MASTER_KEY:
        assert stat.S_IMODE(settings.MASTER_KEY_FILE.stat().st_mode) == 0o600


def test_a_text_on_the_vms_disk_appears_in_no_file_of_the_vault_store_or_its_grs_copy(grs_vault, member,
                                                                                        lab_subscription):
    item = protect(member, grs_vault, "northwind-dev", "dev02")
    os_disk = item.item.vm.disks[0]["media_link"]
    write(lab_subscription, os_disk, 3 << 20, (SECRET * 2000)[:225 * 512])  # 115 KB of it, in whole pages
    assert back_up(member, item).status == Status.COMPLETED
    for job in Job.objects.filter(vault=grs_vault, operation="replicate", status=Status.NOT_STARTED):
        assert run(job).status == Status.COMPLETED
    store, secondary = open_store(grs_vault), secondary_store(grs_vault)
    assert secondary is not None and secondary.point_ids() == store.point_ids() != []
    config = json.loads((grs_vault.store_path / "store.json").read_text())
    assert config["encryption"] == {"cipher": "aes-256-gcm", "key_fingerprint": grs_vault.key_fingerprint}

    for root in (store.path, secondary.path):
        assert _files_holding(root, SECRET[:32]) == []
        assert _files_holding(root, b"dev02") == [] and _files_holding(root, b"northwind") == []
    # The point restores, and the restored disk holds the text: it was in the backup, sealed.
    point = item.recovery_points.get()
    job = run(Restore.start(member, point, RestoreRequest("dev02r", "northwind-dev", False, "labstorenortheu")))
    assert job.status == Status.COMPLETED, job.error_message
    for disk in point.disks:
        url = next(u for u in job.params["created_blobs"] if f"-{disk['name']}-" in u)
        assert same_bytes(lab_subscription, disk["media_link"], disk["snapshot"], url)


def test_a_lost_master_key_stops_jobs_with_a_clear_sentence_and_the_exported_key_brings_the_vault_back(
        grs_vault, member, owner, lab_subscription, settings):
    item = protect(member, grs_vault, "northwind-dev", "dev02")
    assert back_up(member, item).status == Status.COMPLETED
    exported = keys.export_key(owner, grs_vault)

    settings.MASTER_KEY = StoreKey.generate().secret.hex()  # the installation's master key is not the one it was
    grs_vault.refresh_from_db()
    failed = back_up(member, item)
    assert failed.status == Status.FAILED
    assert failed.error_code == "VaultStoreKey"
    assert "cannot be unwrapped with this installation's master key" in failed.error_message
    assert "import the vault's exported key on its CONFIGURE page" in " ".join(failed.recommendations)
    assert item.recovery_points.count() == 1  # nothing lost

    keys.import_key(owner, grs_vault, exported)
    grs_vault.refresh_from_db()
    item.refresh_from_db()
    again = back_up(member, item)
    assert again.status == Status.COMPLETED, again.error_message
    assert again.properties["Backup kind"] == "Incremental"
    point = item.recovery_points.order_by("created").first()
    job = run(Restore.start(member, point, RestoreRequest("dev02k", "northwind-dev", False, "labstorenortheu")))
    assert job.status == Status.COMPLETED, job.error_message


def test_only_this_vaults_key_is_imported_and_only_by_an_administrator(grs_vault, lab_subscription, owner, member,
                                                                       reader):
    item = protect(member, grs_vault, "northwind-dev", "dev02")
    assert back_up(member, item).status == Status.COMPLETED
    other = lab_vault(owner, lab_subscription, "East US", "other")
    with pytest.raises(InvalidRequest, match=r"This is not the key of vault 'eu': its fingerprint is .* the "
                                             r"vault's data was encrypted with the key "):
        keys.import_key(owner, grs_vault, keys.export_key(owner, other))
    with pytest.raises(InvalidRequest, match="checksum does not match"):
        exported = keys.export_key(owner, grs_vault)
        line = exported.splitlines()[-1]
        keys.import_key(owner, grs_vault, line[:-3] + ("A" if line[-3] != "A" else "B") + line[-2:])
    for user in (member, reader):
        with pytest.raises(NotAllowed, match="Only Backup Administrators can export"):
            keys.export_key(user, grs_vault)
        with pytest.raises(NotAllowed, match="Only Backup Administrators can import"):
            keys.import_key(user, grs_vault, exported)
    exports = OperationLogEntry.objects.filter(operation=keys.EXPORT_KEY)
    assert exports.filter(vault=grs_vault).count() == 1 and exports.filter(vault=other).count() == 1
    assert not OperationLogEntry.objects.filter(operation=keys.IMPORT_KEY).exists()  # every import was refused


def test_the_export_is_shown_once_to_an_administrator_in_a_dialog_by_post(client, grs_vault, owner, member, reader,
                                                                          outsider):
    url = reverse("vaults:export_key", args=[grs_vault.pk])
    client.force_login(owner)
    assert client.get(url).status_code == 405  # never by GET: no key in a URL, a history or a cache
    answer = client.post(url)
    page = answer.content.decode()
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    key = StoreKey.from_export(page.split('id="key-export-text"')[1].split(">", 1)[1].split("</pre>")[0])
    assert key.fingerprint == grs_vault.key_fingerprint
    configure = client.get(reverse("vaults:configure", args=[grs_vault.pk])).content.decode()
    assert "EXPORT KEY" in configure and key.short_fingerprint in configure
    assert key.export_text().splitlines()[-1] not in configure  # the page shows the fingerprint, never the key

    for user in (member, reader):
        client.force_login(user)
        refused = client.post(url)
        assert refused.status_code == 204 and "Only Backup Administrators" in refused["HX-Trigger"]
        assert "EXPORT KEY" not in client.get(reverse("vaults:configure", args=[grs_vault.pk])).content.decode()
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert client.post(reverse("vaults:import_key", args=[grs_vault.pk]), {"key": "x"}).status_code == 404


def test_the_import_dialog_says_what_is_wrong_and_never_echoes_what_was_pasted(client, grs_vault, owner):
    client.force_login(owner)
    url = reverse("vaults:import_key", args=[grs_vault.pk])
    pasted = "key: ABCDEF GHIJKL"
    answer = client.post(url, {"key": pasted})
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "too short or too long" in page and "ABCDEF" not in page
    good = client.post(url, {"key": keys.export_key(owner, grs_vault)})
    assert good.status_code == 204 and "Imported the key of vault" in good["HX-Trigger"]
    assert OperationLogEntry.objects.filter(vault=grs_vault, operation=keys.IMPORT_KEY).count() == 1


def test_a_vault_made_before_encryption_keeps_working_unencrypted_and_says_so(lab_subscription, owner, member, client):
    vault = lab_vault(owner, lab_subscription, "East US", "legacy")
    # The state migration 0010 leaves a vault that existed before encryption in: no key. No click makes one.
    Vault.objects.filter(pk=vault.pk).update(wrapped_key="", key_fingerprint="")
    vault.refresh_from_db()
    item = protect(member, vault, "contoso-web", "web01")
    assert back_up(member, item).status == Status.COMPLETED
    assert "encryption" not in json.loads((vault.store_path / "store.json").read_text())
    assert not open_store(vault).encrypted
    with pytest.raises(NotNow, match="created before encryption at rest"):
        keys.export_key(owner, vault)
    client.force_login(owner)
    dashboard = client.get(reverse("vaults:dashboard", args=[vault.pk])).content.decode()
    assert "Not encrypted" in dashboard and "created before encryption at rest" in dashboard
    configure = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert "Encrypting it in place is not offered" in configure and "EXPORT KEY" not in configure
