"""What an administrator clicks on CONFIGURE: EXPORT KEY shows the vault's key once; IMPORT KEY takes it back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import OperationLogEntry
from vaults.services import keys
from vaultstore import StoreKey

from .helpers import lab_vault

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_export_the_key_then_import_it_by_keyboard(page, sign_in, owner, lab_subscription, portal_server,
                                                    screenshot_dir):
    vault = lab_vault(owner, lab_subscription, name="payroll-east")
    page.set_viewport_size({"width": 1300, "height": 900})
    sign_in(page, owner)
    page.goto(f"{portal_server}/vaults/{vault.pk}/configure/")
    section = page.locator("#encryption-section")
    expect(section).to_contain_text("Encrypted (AES-256-GCM)")
    fingerprint = section.locator("#key-fingerprint").inner_text()

    section.locator("#key-export").click()
    dialog = page.locator("#key-export-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Anyone who has this key and a copy of the vault's store can read its backups")
    text = dialog.locator("#key-export-text").inner_text()
    key = StoreKey.from_export(text)
    assert key.fingerprint == vault.key_fingerprint and key.short_fingerprint == fingerprint
    dialog.screenshot(path=str(screenshot_dir / "key-export-dialog.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert OperationLogEntry.objects.filter(vault=vault, operation=keys.EXPORT_KEY).count() == 1

    # IMPORT KEY, by keyboard: a mistyped key is refused with what is wrong; the exported one is taken.
    section.locator("#key-import").focus()
    page.keyboard.press("Enter")
    importer = page.locator("#key-import-dialog")
    expect(importer).to_be_visible()
    body = text.splitlines()[-1]
    importer.locator("#key-import-text").fill(body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1])
    importer.locator("#key-import-confirm").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#key-import-error")).to_contain_text("checksum does not match")
    page.locator("#key-import-dialog").screenshot(path=str(screenshot_dir / "key-import-refused.png"))
    page.locator("#key-import-text").fill(text)
    page.locator("#key-import-confirm").click()
    expect(page.locator("#notes")).to_contain_text("Imported the key of vault 'payroll-east'")
    expect(page.locator("#key-import-dialog")).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "key-imported.png"))
    assert OperationLogEntry.objects.filter(vault=vault, operation=keys.IMPORT_KEY).count() == 1


def test_a_reader_sees_the_encryption_but_no_key_commands(page, sign_in, owner, reader, lab_subscription,
                                                          portal_server):
    vault = lab_vault(owner, lab_subscription, name="payroll-east")
    sign_in(page, reader)
    page.goto(f"{portal_server}/vaults/{vault.pk}/configure/")
    section = page.locator("#encryption-section")
    expect(section).to_contain_text("Encrypted (AES-256-GCM)")
    expect(section).to_contain_text("Only Backup Administrators can export or import the vault's key.")
    expect(section.locator("#key-export")).to_have_count(0)
    page.goto(f"{portal_server}/vaults/{vault.pk}/dashboard/")
    expect(page.locator("#vault-encryption")).to_contain_text("Encrypted")
