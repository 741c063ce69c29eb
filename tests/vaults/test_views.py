from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.protection.helpers import default_policy, point, protected, registered, unregister
from vaults.models import Subscription, Vault
from vaults.services import vaults as services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def regions(monkeypatch):
    """What the subscriptions' endpoints answer for their regions, where a test quick-creates a vault itself."""
    monkeypatch.setattr(services, "list_regions", lambda endpoint: ["East US", "West US"])


def vault_urls(vault) -> list[str]:
    return [reverse(name, args=[vault.pk]) for name in
            ("vaults:open", "vaults:quickstart", "vaults:dashboard", "vaults:configure")]


def test_every_vault_page_needs_login(client, vault):
    for url in [*vault_urls(vault), reverse("vaults:quick_create"), reverse("vaults:subscriptions")]:
        assert client.get(url).status_code == 302, url


@pytest.mark.parametrize("persona", ["owner", "member", "reader"])
def test_members_reach_every_tab(client, request, persona, vault):
    client.force_login(request.getfixturevalue(persona))
    for url in vault_urls(vault)[1:]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "QUICK START" in response.content.decode()


def test_list_shows_name_status_location_subscription(client, member, vault, outsider, other_subscription, settings,
                                                      tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    services.create_vault(outsider, other_subscription, "hidden-vault", "West US")
    client.force_login(member)
    html = client.get(reverse("vaults:list")).content.decode()
    for text in ("contoso-east", "Active", "East US", "Lab subscription"):
        assert text in html
    assert "hidden-vault" not in html


def test_new_vault_opens_quick_start_then_the_last_tab(client, member, vault):
    client.force_login(member)
    assert client.get(reverse("vaults:open", args=[vault.pk]))["Location"] == reverse("vaults:quickstart",
                                                                                        args=[vault.pk])
    client.get(reverse("vaults:configure", args=[vault.pk]))
    assert client.get(reverse("vaults:open", args=[vault.pk]))["Location"] == reverse("vaults:configure",
                                                                                        args=[vault.pk])


def test_quick_create_form_offers_the_subscriptions_regions(client, member, subscription):
    client.force_login(member)
    html = client.get(reverse("vaults:quick_create"), HTTP_HX_REQUEST="true").content.decode()
    assert '<option value="East US"' in html and '<option value="West US"' in html
    assert 'name="subscription"' in html and 'type="hidden"' in html  # one subscription: no picker
    # ...but the field is shown, read-only, as the tutorial's step names it.
    assert 'id="quick-create-subscription"' in html and 'readonly' in html
    assert f'value="{member.subscriptions.get().name}" readonly' in html


def test_subscription_picker_only_with_several_subscriptions(client, member, other_subscription):
    other_subscription.members.add(member)
    client.force_login(member)
    html = client.get(reverse("vaults:quick_create")).content.decode()
    assert 'aria-label="Subscription"' in html


def test_quick_create_by_htmx_creates_and_triggers_refresh(client, member, subscription, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    client.force_login(member)
    response = client.post(reverse("vaults:quick_create"), {"name": "contoso-west", "region": "West US",
                                                            "subscription": subscription.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "vaultCreated"
    # A Create Vault job makes it: Creating until the job has run (tests/vaults/test_create_vault_job.py).
    assert Vault.objects.get(name="contoso-west").status == Vault.Status.CREATING


def test_quick_create_shows_the_exact_message(client, member, subscription):
    client.force_login(member)
    response = client.post(reverse("vaults:quick_create"), {"name": "1x", "region": "West US",
                                                            "subscription": subscription.pk}, HTTP_HX_REQUEST="true")
    assert "The vault name must start with a letter." in response.content.decode()
    assert not Vault.objects.exists()


def test_reader_sees_no_commands_that_change_anything(client, reader, vault):
    client.force_login(reader)
    html = client.get(reverse("vaults:dashboard", args=[vault.pk])).content.decode()
    assert 'id="cmd-delete"' not in html
    html = client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()
    assert 'id="cmd-save"' not in html and "disabled" in html
    assert "Only Backup Operators and Administrators can create vaults." in client.get(
        reverse("vaults:quick_create")).content.decode()


def test_operator_cannot_delete_or_reconfigure(client, member, vault):
    client.force_login(member)
    client.post(reverse("vaults:delete", args=[vault.pk]), {"reason": "tidy"})
    assert Vault.objects.filter(pk=vault.pk).exists()
    client.post(reverse("vaults:configure", args=[vault.pk]), {"replication": "lrs"})
    vault.refresh_from_db()
    assert vault.replication == Vault.Replication.GRS


def test_administrator_sets_replication_until_an_item_is_registered(client, owner, vault):
    client.force_login(owner)
    client.post(reverse("vaults:configure", args=[vault.pk]), {"replication": "lrs"})
    vault.refresh_from_db()
    assert vault.replication == Vault.Replication.LRS
    registered(owner, vault, "vm01")
    response = client.post(reverse("vaults:configure", args=[vault.pk]), {"replication": "grs"})
    assert Vault.REPLICATION_LOCKED in response.content.decode()
    vault.refresh_from_db()
    assert vault.replication == Vault.Replication.LRS


def test_grs_names_its_paired_region(client, owner, vault):
    client.force_login(owner)
    assert "West US" in client.get(reverse("vaults:configure", args=[vault.pk])).content.decode()


def test_delete_needs_a_reason_and_an_empty_vault(client, owner, vault, settings, tmp_path,
                                                 django_capture_on_commit_callbacks):
    settings.VAULT_STORE_DIR = tmp_path
    vault.store_path.mkdir()
    (vault.store_path / "chunk").write_bytes(b"x")
    client.force_login(owner)
    client.post(reverse("vaults:delete", args=[vault.pk]), {"reason": ""})
    assert Vault.objects.filter(pk=vault.pk).exists()
    item = registered(owner, vault, "vm01")
    response = client.post(reverse("vaults:delete", args=[vault.pk]), {"reason": "moving"}, follow=True)
    assert "The vault still has registered items." in response.content.decode()
    unregister(owner, vault, item)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("vaults:delete", args=[vault.pk]), {"reason": "moving"})
    assert not Vault.objects.filter(pk=vault.pk).exists()
    assert not vault.store_path.exists()


def test_administrator_adds_a_subscription_and_the_certificate_is_never_shown(client, owner, settings, tmp_path):
    settings.CERTIFICATE_DIR = tmp_path / "certs"
    from tests.fixtures.certificates import management_pem

    client.force_login(owner)
    pem = management_pem()
    secret = pem.split("-----BEGIN PRIVATE KEY-----")[1].split()[0]  # a line of the key
    sub_2 = "00000000-0000-0000-0000-000000000002"
    client.post(reverse("vaults:subscriptions"), {"name": "Prod", "subscription_id": sub_2, "host": "mgmt.example:443",
                                                  "protocol": "https", "certificate": pem, "ca_certificate": ""})
    subscription = Subscription.objects.get(subscription_id=sub_2)
    assert owner in subscription.members.all()
    path = tmp_path / "certs" / f"{subscription.pk}-management.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    html = client.get(reverse("vaults:subscriptions")).content.decode()
    assert secret not in html and "Management certificate on file" in html


def test_https_subscription_needs_a_certificate(client, owner):
    client.force_login(owner)
    response = client.post(reverse("vaults:subscriptions"), {"name": "Prod",
                                                             "subscription_id": "00000000-0000-0000-0000-000000000003",
                                                             "host": "mgmt.example", "protocol": "https"})
    assert "An HTTPS endpoint needs a management certificate" in response.content.decode()


def test_operators_cannot_add_subscriptions(client, member):
    client.force_login(member)
    response = client.post(reverse("vaults:subscriptions"), {"name": "X", "subscription_id": "s", "host": "h",
                                                             "protocol": "http"})
    assert response.status_code == 404
    assert not Subscription.objects.filter(subscription_id="s").exists()


def test_test_connection_reports_in_plain_words(client, owner, subscription, vm_lab):
    subscription.subscription_id, subscription.host = vm_lab.subscription_id, vm_lab.host
    subscription.save()
    client.force_login(owner)
    response = client.post(reverse("vaults:subscription_test", args=[subscription.pk]), HTTP_HX_REQUEST="true")
    assert (f"Connected to {vm_lab.host}: 3 regions (East US, West US, North Europe)."
            in response.content.decode())


def test_outsider_cannot_test_another_subscription(client, outsider, subscription):
    client.force_login(outsider)
    assert client.post(reverse("vaults:subscription_test", args=[subscription.pk])).status_code == 404


def test_creating_and_deleting_a_vault_is_in_the_operations_log(client, owner, subscription, settings, tmp_path):
    from jobs.models import OperationLogEntry

    settings.VAULT_STORE_DIR = tmp_path
    vault = services.create_vault(owner, subscription, "logged", "East US")
    services.delete_vault(owner, vault, "no longer needed")
    entries = {e.operation: e for e in OperationLogEntry.objects.filter(item_name="logged")}
    assert entries["create_vault"].username == "owner"
    assert entries["delete_vault"].details == {"reason": "no longer needed"}


def test_dashboard_counts_what_the_vault_holds(client, member, vault):
    from datetime import timedelta

    item = protected(member, vault, default_policy(vault), "vm01")
    registered(member, vault, "vm02")
    for hours in range(3):
        point(item, timezone.now() - timedelta(hours=hours))
    client.force_login(member)
    summary = client.get(reverse("vaults:dashboard", args=[vault.pk])).context["summary"]
    assert (summary["protected_vms"], summary["recovery_points"], summary["registered_items"]) == (1, 3, 2)
