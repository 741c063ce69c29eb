"""Fixtures of the API suite: a token per persona, a client that sends it, and a vault with one of everything.

State is made the way a person makes it: quick create, DISCOVER, REGISTER, PROTECT and BACKUP NOW, through the
services and jobs the pages call (``tests.fixtures.vaults``), the jobs run here against the lab fabric.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from api import tokens


@pytest.fixture(autouse=True)
def _stores_removed(vault_stores_removed):
    """The stores of the vaults a test quick-creates go when it ends."""


class ApiClient:
    """The Django test client with ``Authorization: Bearer <token>`` on every request (or none)."""

    def __init__(self, secret: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def call(self, method: str, path: str, body: dict | None = None):
        url = path if path.startswith("/api/v1") else f"/api/v1{path}"
        kwargs = {"headers": self.headers}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, path: str):
        return self.call("GET", path)

    def post(self, path: str, body: dict | None = None):
        return self.call("POST", path, body if body is not None else {})


def api_client_for(user) -> ApiClient:
    _token, secret = tokens.create_token(user, f"{user.username} tests", 30)
    return ApiClient(secret)


@pytest.fixture
def as_owner(owner) -> ApiClient:
    return api_client_for(owner)


@pytest.fixture
def as_member(member) -> ApiClient:
    return api_client_for(member)


@pytest.fixture
def as_reader(reader) -> ApiClient:
    return api_client_for(reader)


@pytest.fixture
def as_outsider(outsider) -> ApiClient:
    return api_client_for(outsider)


@dataclass
class Estate:
    """One of everything in the personas' vault, with the ids the API names them by."""

    subscription: int
    vault: int
    free_vm: int  # discovered, not registered
    registered: int  # registered and protected
    protected: int
    point: int
    policy: int
    job: int
    storage_account: str


@pytest.fixture
def estate(vault, member, owner) -> Estate:
    from tests.fixtures.vaults import protect_vm, run_job
    from vaults.models import VirtualMachine
    from vaults.operations.backup import Backup
    from vaults.services.restore import storage_accounts

    item = protect_vm(member, vault, "scale-0000", "vm00", runner=run_job)
    job = run_job(Backup.start(member, item))
    assert job.status == "completed", job.error_message
    free = VirtualMachine.objects.get(subscription=vault.subscription, cloud_service="scale-0000", name="vm01")
    account = next(name for name, region in storage_accounts(vault.subscription).items() if region == vault.region)
    return Estate(subscription=vault.subscription_id, vault=vault.pk, free_vm=free.pk, registered=item.item_id,
                  protected=item.pk, point=item.recovery_points.get().pk, policy=item.policy_id, job=job.pk,
                  storage_account=account)
