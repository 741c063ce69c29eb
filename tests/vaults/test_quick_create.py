from __future__ import annotations

import pytest

from vaults.cloud.errors import FabricError
from vaults.models import Vault
from vaults.services import subscriptions
from vaults.services import vaults as services
from vaults.services.refusals import Refusal
from vaults.services.vaults import create_vault, vault_name_errors

pytestmark = pytest.mark.django_db

REGIONS = ["East US", "West US", "North Europe"]


@pytest.fixture
def regions(monkeypatch):
    """The subscription's endpoint, answering list_locations with three regions (unit tests only;
    the integration tests ask the real lab fabric)."""
    monkeypatch.setattr(services, "list_regions", lambda endpoint: list(REGIONS))


@pytest.mark.parametrize("name, message", [
    ("a", "The vault name must be between 2 and 50 characters long."),
    ("a" * 51, "The vault name must be between 2 and 50 characters long."),
    ("1vault", "The vault name must start with a letter."),
    ("-vault", "The vault name must start with a letter."),
    ("my_vault", "The vault name can contain only letters, numbers and hyphens."),
    ("my vault", "The vault name can contain only letters, numbers and hyphens."),
    ("vaulté", "The vault name can contain only letters, numbers and hyphens."),
])
def test_vault_name_rules_each_have_their_message(name, message):
    assert message in vault_name_errors(name)


@pytest.mark.parametrize("name", ["ab", "contoso-east", "A1-b2", "v" * 50])
def test_valid_vault_names(name):
    assert vault_name_errors(name) == []


def test_create_makes_an_active_vault_with_its_store(member, subscription, regions, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    vault = create_vault(member, subscription, "contoso-east", "East US")
    assert vault.status == Vault.Status.ACTIVE
    assert vault.replication == Vault.Replication.GRS
    assert (tmp_path / vault.store_key).is_dir()


def test_name_must_be_unique_in_the_subscription(member, subscription, vault, regions):
    with pytest.raises(Refusal) as caught:
        create_vault(member, subscription, "Contoso-East", "East US")
    assert str(caught.value) == ("A vault named 'Contoso-East' already exists in subscription 'Lab subscription'. "
                                 "Choose another name.")


def test_same_name_is_fine_in_another_subscription(owner, outsider, vault, other_subscription, regions, settings,
                                                   tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    assert create_vault(outsider, other_subscription, "contoso-east", "East US").pk != vault.pk


def test_at_most_25_vaults_per_subscription(member, subscription, regions, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    for i in range(25):
        create_vault(member, subscription, f"v{i}", "East US")
    with pytest.raises(Refusal) as caught:
        create_vault(member, subscription, "one-more", "East US")
    assert str(caught.value) == ("Subscription 'Lab subscription' already has 25 vaults, the most it may hold. "
                                 "Delete a vault you no longer need, or use another subscription.")


def test_region_must_be_one_of_the_subscriptions(member, subscription, regions):
    with pytest.raises(Refusal) as caught:
        create_vault(member, subscription, "contoso", "Mars")
    assert str(caught.value) == ("'Mars' is not a region of subscription 'Lab subscription'. Choose one of: "
                                 "East US, West US, North Europe.")
    assert not Vault.objects.exists()


def test_readers_cannot_create_vaults(reader, subscription, regions):
    with pytest.raises(Refusal, match="Only Backup Operators and Administrators can create vaults."):
        create_vault(reader, subscription, "contoso", "East US")


def test_outsider_cannot_create_in_a_subscription_they_do_not_belong_to(outsider, subscription, regions):
    with pytest.raises(Refusal, match="Choose a subscription you belong to."):
        create_vault(outsider, subscription, "contoso", "East US")


def test_fabric_down_gives_a_clear_error_and_leaves_no_vault(member, subscription, monkeypatch):
    def down(endpoint):
        raise FabricError("Could not connect to the endpoint at 127.0.0.1:8100. Check that it is running and that "
                          "the subscription's host is right.", transient=True)

    monkeypatch.setattr(services, "list_regions", down)
    with pytest.raises(Refusal, match="Could not connect to the endpoint at 127.0.0.1:8100"):
        create_vault(member, subscription, "contoso", "East US")
    assert not Vault.objects.exists()


def test_store_failure_leaves_neither_row_nor_directory(member, subscription, regions, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    settings.VAULT_STORE_DIR = blocker
    with pytest.raises(Refusal, match="The vault's store could not be created"):
        create_vault(member, subscription, "contoso", "East US")
    assert not Vault.objects.exists()


def test_unreachable_endpoint_is_described_in_plain_words(subscription):
    subscription.host = "127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(FabricError, match="Could not connect to the endpoint at 127.0.0.1:9"):
        services.list_regions(subscription.endpoint)
    ok, message = subscriptions.test_connection(None, subscription)  # None: the service itself asks
    assert not ok and "Could not connect" in message
