"""Sizes under one name each: a disk's provisioned size is never shown as the data backed up, moved or restored.

A lab VM's disks are tens of GB provisioned and hold a few MB: the backup's job, the protected item's page and the
restore's job each say which figure is which, with the same words (portal/units.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.units import DATA_BACKED_UP, DATA_RESTORED, DATA_TRANSFERRED, DISK_SIZE, NEW_DATA_STORED, human_bytes
from vaults.operations.restore import Restore
from vaults.services.restore import RestoreRequest

from .helpers import back_up, lab_vault, protect, run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

UNITS = {"bytes": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def amount(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+) (bytes|KB|MB|GB|TB)", text).groups()
    return float(number) * UNITS[unit]


def test_backup_restore_and_item_page_name_each_size(lab_subscription, owner, member, client):
    vault = lab_vault(owner, lab_subscription)
    item = protect(member, vault, "contoso-web", "web02")
    job = back_up(member, item)
    assert job.status == "completed", job.error_message
    point = item.recovery_points.get()

    shown = {name: job.properties[name] for name in (DISK_SIZE, DATA_BACKED_UP, DATA_TRANSFERRED, NEW_DATA_STORED)}
    assert shown[DISK_SIZE] == human_bytes(point.logical_bytes)
    assert shown[DATA_BACKED_UP] == human_bytes(point.data_bytes)
    assert shown[NEW_DATA_STORED] == human_bytes(point.stored_bytes)
    # The provisioned size is far more than the data in it, which is what was read and (compressed) stored.
    assert amount(shown[DISK_SIZE]) > 10 * amount(shown[DATA_BACKED_UP])
    assert amount(shown[DATA_TRANSFERRED]) <= amount(shown[DATA_BACKED_UP]) * 1.01
    assert not {"Backup Size", "Transferred Bytes", "Stored Bytes"} & set(job.properties)

    client.force_login(member)
    page = client.get(reverse("vaults:protected_item", args=[vault.pk, item.pk])).content.decode()
    for label, figure in (("Disk size (provisioned)", point.logical_bytes), ("Data backed up", point.data_bytes),
                          ("New data stored", point.stored_bytes)):
        assert re.search(rf"<th>{re.escape(label)}</th><td[^>]*>{re.escape(human_bytes(figure))}", page), label
    assert "new in the vault" not in page and "Backup size" not in page

    details = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert f"<dt>{DATA_BACKED_UP}</dt><dd>{shown[DATA_BACKED_UP]}</dd>" in details

    restored = run(Restore.start(member, point, RestoreRequest("rssize1", "contoso-web", False, "labstoreeastus")))
    assert restored.status == "completed", restored.error_message
    assert restored.properties[DATA_RESTORED] == human_bytes(point.data_bytes)
    assert restored.properties[DISK_SIZE] == human_bytes(point.logical_bytes)
