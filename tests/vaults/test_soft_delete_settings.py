"""CONFIGURE's Soft delete and Immutability sections: who may change them, the 14-180 day range, always-on that is
never weakened, Locked that is never undone, and an operations log entry for every change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import LogAction, OperationLogEntry
from vaults.models import Vault
from vaults.services.refusals import InvalidRequest, NotAllowed, NotNow
from vaults.services.soft_delete import set_immutability, set_soft_delete

pytestmark = pytest.mark.django_db


def soft_delete_of(vault: Vault) -> tuple[bool, int, bool]:
    vault.refresh_from_db()
    return vault.soft_delete_enabled, vault.soft_delete_days, vault.soft_delete_always_on


def post_soft_delete(client, vault: Vault, *, enabled: bool = True, days: int | str = 14, always_on: bool = False):
    data = {"soft_delete_days": days, **({"soft_delete_enabled": "on"} if enabled else {}),
            **({"soft_delete_always_on": "on"} if always_on else {})}
    return client.post(reverse("vaults:configure_soft_delete", args=[vault.pk]), data)


def logged(action: str) -> list[dict]:
    return [entry.details for entry in OperationLogEntry.objects.filter(operation=action).order_by("pk")]


def test_a_new_vault_keeps_deleted_data_14_days_and_is_not_immutable(client, owner, vault):
    assert soft_delete_of(vault) == (True, 14, False)
    assert vault.immutability == Vault.Immutability.DISABLED
    client.force_login(owner)
    page = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert 'id="soft-delete-section"' in page and 'id="immutability-section"' in page
    assert 'id="soft-delete-days" min="14" max="180" value="14"' in page
    assert 'id="immutability-disabled" checked' in page and 'id="soft-delete-save"' in page


def test_the_period_is_14_to_180_days(client, owner, vault):
    for days in (13, 181):
        with pytest.raises(InvalidRequest, match=f"must be between 14 and 180 days; {days} is not"):
            set_soft_delete(owner, vault, enabled=True, days=days, always_on=False)
    client.force_login(owner)
    page = post_soft_delete(client, vault, days=200).content.decode()
    assert "The soft-delete period must be between 14 and 180 days; 200 is not." in page
    assert "whole number of days" in post_soft_delete(client, vault, days="two weeks").content.decode()
    assert soft_delete_of(vault) == (True, 14, False)
    assert post_soft_delete(client, vault, days=90)["Location"] == reverse("vaults:configure", args=[vault.pk])
    assert soft_delete_of(vault) == (True, 90, False)
    assert logged(LogAction.UPDATE_SOFT_DELETE) == [{"before": {"enabled": True, "days": 14, "always_on": False},
                                                     "after": {"enabled": True, "days": 90, "always_on": False}}]


def test_soft_delete_may_be_turned_off_unless_it_is_always_on(client, owner, vault):
    set_soft_delete(owner, vault, enabled=False, days=14, always_on=False)
    assert soft_delete_of(vault) == (False, 14, False)
    with pytest.raises(InvalidRequest, match="Always-on soft delete keeps soft delete on"):
        set_soft_delete(owner, vault, enabled=False, days=14, always_on=True)
    set_soft_delete(owner, vault, enabled=True, days=30, always_on=True)
    assert soft_delete_of(vault) == (True, 30, True)

    for enabled, always_on in ((False, False), (True, False)):
        with pytest.raises(NotNow, match="always-on for vault 'contoso-east': it can no longer be turned off"):
            set_soft_delete(owner, vault, enabled=enabled, days=30, always_on=always_on)
    with pytest.raises(NotNow, match="its period cannot be shortened below 30 days"):
        set_soft_delete(owner, vault, enabled=True, days=29, always_on=True)
    set_soft_delete(owner, vault, enabled=True, days=45, always_on=True)  # lengthening is fine
    assert soft_delete_of(vault) == (True, 45, True)

    # The page: the switches can no longer be unticked, and a forged form is refused all the same.
    client.force_login(owner)
    page = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert 'id="soft-delete-enabled" checked disabled' in page and 'id="soft-delete-always-on-note"' in page
    answer = post_soft_delete(client, vault, enabled=False, days=45)
    assert "it can no longer be turned off" in answer.content.decode()
    assert "cannot be shortened below 45 days" in post_soft_delete(client, vault, days=14, always_on=True).content.decode()
    assert soft_delete_of(vault) == (True, 45, True)
    assert [d["after"] for d in logged(LogAction.UPDATE_SOFT_DELETE)] == [
        {"enabled": False, "days": 14, "always_on": False}, {"enabled": True, "days": 30, "always_on": True},
        {"enabled": True, "days": 45, "always_on": True}]


def test_immutability_is_enabled_disabled_then_locked_for_good(client, owner, vault):
    set_immutability(owner, vault, Vault.Immutability.ENABLED)
    assert vault.is_immutable and not vault.is_immutability_locked
    set_immutability(owner, vault, Vault.Immutability.DISABLED)
    assert not vault.is_immutable
    with pytest.raises(InvalidRequest, match="Locking immutability cannot be undone: tick the box"):
        set_immutability(owner, vault, Vault.Immutability.LOCKED)
    client.force_login(owner)
    url = reverse("vaults:configure_immutability", args=[vault.pk])
    assert "Locking immutability cannot be undone" in client.post(url, {"immutability": "locked"}).content.decode()
    assert client.post(url, {"immutability": "locked", "confirm_lock": "on"}).status_code == 302
    vault.refresh_from_db()
    assert vault.immutability == Vault.Immutability.LOCKED

    for state in (Vault.Immutability.ENABLED, Vault.Immutability.DISABLED):
        with pytest.raises(NotNow, match="Immutability of vault 'contoso-east' is locked: it cannot be disabled or"):
            set_immutability(owner, vault, state)
        assert "it cannot be disabled or unlocked" in client.post(url, {"immutability": state}).content.decode()
    vault.refresh_from_db()
    assert vault.immutability == Vault.Immutability.LOCKED
    assert not vault.change_immutability(Vault.Immutability.DISABLED)  # the row itself refuses
    page = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert 'id="immutability-locked"' in page and 'id="immutability-save"' not in page
    assert [(d["before"], d["after"]) for d in logged(LogAction.UPDATE_IMMUTABILITY)] == [
        ("disabled", "enabled"), ("enabled", "disabled"), ("disabled", "locked")]


@pytest.mark.parametrize("persona", ["member", "reader"])
def test_only_administrators_change_the_settings(client, request, persona, vault):
    user = request.getfixturevalue(persona)
    with pytest.raises(NotAllowed, match="Only Backup Administrators can change the soft-delete settings"):
        set_soft_delete(user, vault, enabled=False, days=14, always_on=False)
    with pytest.raises(NotAllowed, match="Only Backup Administrators can change immutability"):
        set_immutability(user, vault, Vault.Immutability.LOCKED, confirm_lock=True)
    client.force_login(user)
    page = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert 'id="soft-delete-save"' not in page and 'id="immutability-save"' not in page
    assert "Only Backup Administrators can change soft delete." in page
    assert "Only Backup Administrators" in post_soft_delete(client, vault, enabled=False).content.decode()
    answer = client.post(reverse("vaults:configure_immutability", args=[vault.pk]),
                         {"immutability": "locked", "confirm_lock": "on"})
    assert "Only Backup Administrators can change immutability." in answer.content.decode()
    assert soft_delete_of(vault) == (True, 14, False)
    assert vault.immutability == Vault.Immutability.DISABLED
    assert not OperationLogEntry.objects.filter(operation__in=[LogAction.UPDATE_SOFT_DELETE,
                                                               LogAction.UPDATE_IMMUTABILITY]).exists()


def test_outsiders_get_404_from_the_new_urls(client, outsider, vault):
    client.force_login(outsider)
    for name in ("configure_soft_delete", "configure_immutability", "undelete"):
        assert client.post(reverse(f"vaults:{name}", args=[vault.pk]), {"immutability": "disabled"}).status_code == 404
        assert client.get(reverse(f"vaults:{name}", args=[vault.pk])).status_code == 405  # POST only, looked up nothing
    assert soft_delete_of(vault) == (True, 14, False)
