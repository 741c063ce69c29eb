"""QUICK CREATE makes a Create Vault job: the vault lists as Creating, then Active once a worker has run the job; a
failed job leaves no vault behind. Callers that wait (``create_vault``: the command line, the API) still get an
Active vault at once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.live import sentence
from jobs.models import Job, Operation, Status
from tests.fixtures.vaults import run_job
from vaults.models import Vault
from vaults.services import vaults as services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def regions(monkeypatch):
    monkeypatch.setattr(services, "list_regions", lambda endpoint: ["East US", "West US"])


def quick_create(client, subscription, name: str):
    return client.post(reverse("vaults:quick_create"), {"name": name, "region": "West US",
                                                        "subscription": subscription.pk}, HTTP_HX_REQUEST="true")


def test_quick_create_starts_a_job_whose_view_job_link_opens_the_job(client, member, subscription, settings,
                                                                    tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    client.force_login(member)
    html = quick_create(client, subscription, "contoso-west").content.decode()

    job = Job.objects.get(operation=Operation.CREATE_VAULT)
    vault = Vault.objects.get(name="contoso-west")
    assert (job.vault, job.status, job.requested_by) == (vault, Status.NOT_STARTED, member)
    assert vault.status == Vault.Status.CREATING and not vault.wrapped_key
    assert not (tmp_path / vault.store_key).exists()  # the store is the job's work
    assert f'href="{reverse("jobs:detail", args=[job.pk])}"' in html and "View Job" in html
    assert sentence(job) == "Creating backup vault 'contoso-west'…"
    listed = client.get(reverse("vaults:list")).content.decode()
    assert "contoso-west" in listed and "Creating" in listed

    job = run_job(job)

    assert job.status == Status.COMPLETED, job.error_message
    vault.refresh_from_db()
    assert vault.status == Vault.Status.ACTIVE and vault.wrapped_key and vault.key_fingerprint
    assert (tmp_path / vault.store_key).is_dir()
    assert list(vault.policies.values_list("name", flat=True)) == ["DefaultPolicy"]
    assert sentence(job) == "Creation of backup vault 'contoso-west' completed."
    assert [s.name for s in job.subtasks.all()] == ["Create encryption key and store"]


def test_a_store_that_cannot_be_made_fails_the_job_and_leaves_no_vault(client, member, subscription, settings,
                                                                      tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the vault store directory should be")
    settings.VAULT_STORE_DIR = blocker
    client.force_login(member)
    quick_create(client, subscription, "contoso-west")
    job = run_job(Job.objects.get(operation=Operation.CREATE_VAULT))

    assert job.status == Status.FAILED and job.error_code == "StoreNotCreated"
    assert job.error_message.startswith("The vault's store could not be created (")
    assert "No vault was created" in sentence(job)
    assert not Vault.objects.filter(name="contoso-west").exists() and job.vault is None
    assert blocker.is_file()
    # The name is free again: a second try, once the directory can be made, succeeds.
    settings.VAULT_STORE_DIR = tmp_path / "stores"
    quick_create(client, subscription, "contoso-west")
    assert run_job(Job.objects.filter(operation=Operation.CREATE_VAULT).latest("pk")).status == Status.COMPLETED


def test_the_same_name_twice_is_refused_while_the_first_is_creating(client, member, subscription, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    client.force_login(member)
    quick_create(client, subscription, "contoso-west")
    html = quick_create(client, subscription, "Contoso-West").content.decode()
    assert "A vault named &#x27;Contoso-West&#x27; already exists" in html
    assert Job.objects.filter(operation=Operation.CREATE_VAULT).count() == 1


def test_reader_cannot_create(client, reader, subscription):
    client.force_login(reader)
    quick_create(client, subscription, "contoso-west")
    assert not Vault.objects.exists() and not Job.objects.exists()


def test_waiting_callers_still_get_an_active_vault(member, subscription, settings, tmp_path):
    settings.VAULT_STORE_DIR = tmp_path
    vault = services.create_vault(member, subscription, "contoso-west", "West US")
    assert vault.status == Vault.Status.ACTIVE and (tmp_path / vault.store_key).is_dir()
    assert vault.policies.count() == 1


def test_a_create_vault_job_cannot_be_cancelled(client, member, subscription, settings, tmp_path):
    """Cancelling it before it ran would leave the vault Creating for ever; it takes a moment anyway."""
    settings.VAULT_STORE_DIR = tmp_path
    client.force_login(member)
    quick_create(client, subscription, "contoso-west")
    job = Job.objects.get(operation=Operation.CREATE_VAULT)
    client.post(reverse("jobs:cancel"), {"job": job.pk})
    job.refresh_from_db()
    assert job.status == Status.NOT_STARTED and not job.cancellable
    assert run_job(job).status == Status.COMPLETED
