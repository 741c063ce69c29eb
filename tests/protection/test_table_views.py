"""The Policies and Protected Items tables: sorted and searched in the query, the state in the query string."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from vaults.models import RecoveryPoint
from vaults.services.policies import create_default_policy

from .helpers import make_policy, protected

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def policy_names(response) -> list[str]:
    return [row["policy"].name for row in response.context["rows"]]


def item_names(response) -> list[str]:
    return [item.item.vm.name for item in response.context["items"]]


@pytest.fixture
def policies(vault):
    """Three policies: Archive protects two VMs, DefaultPolicy one, Weekly-Long none."""
    default, archive = create_default_policy(vault), make_policy(vault, "Archive")
    make_policy(vault, "Weekly-Long")
    protected(vault, archive, "web01")
    protected(vault, archive, "web02")
    protected(vault, default, "db01")
    return vault


@pytest.fixture
def items(vault):
    """Four protected VMs that differ in every column."""
    policy = create_default_policy(vault)
    rows = {name: protected(vault, policy, name, service)
            for name, service in (("web01", "svc-c"), ("db01", "svc-a"), ("app01", "svc-b"), ("web02", "svc-d"))}
    statuses = {"web01": "protected", "db01": "stopped", "app01": "error", "web02": "pending"}
    for name, status in statuses.items():
        rows[name].status = status
        rows[name].last_backup_status = {"web01": "Completed", "db01": "Failed"}.get(name, "")
        rows[name].save()
    for name, days in (("web01", [1, 2, 3]), ("db01", [5]), ("app01", [2, 4])):
        for day in days:
            RecoveryPoint.objects.create(protected_item=rows[name], created=datetime(2026, 3, day, 3, tzinfo=UTC),
                                         consistency="crash", store_point_id=f"{name}-{day}")
    return vault


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


def test_policies_sort_by_name_by_default_and_by_column_both_ways(reader_client, policies):
    url = reverse("vaults:policies", args=[policies.pk])
    assert policy_names(reader_client.get(url)) == ["Archive", "DefaultPolicy", "Weekly-Long"]
    assert policy_names(reader_client.get(url, {"sort": "-name"})) == ["Weekly-Long", "DefaultPolicy", "Archive"]
    assert policy_names(reader_client.get(url, {"sort": "vms"})) == ["Weekly-Long", "DefaultPolicy", "Archive"]
    assert policy_names(reader_client.get(url, {"sort": "-vms"})) == ["Archive", "DefaultPolicy", "Weekly-Long"]


def test_policy_headers_link_to_the_next_order_and_show_the_current_one(reader_client, policies):
    body = reader_client.get(reverse("vaults:policies", args=[policies.pk]), {"sort": "vms", "q": "a"}).content.decode()
    assert f'href="/vaults/{policies.pk}/policies/?q=a&amp;sort=-vms"' in body  # sorted up: a click sorts down
    assert f'href="/vaults/{policies.pk}/policies/?q=a"' in body  # NAME: back to the default order
    assert 'class="sorted"' in body and 'aria-sort="ascending"' in body
    assert 'name="sort" value="vms" form="policy-search"' in body and 'value="a"' in body
    assert "<th>Schedule</th>" in body and 'data-sort="schedule"' not in body  # read from the rules: does not sort


def test_policies_search_by_name_in_any_case(reader_client, policies):
    url = reverse("vaults:policies", args=[policies.pk])
    assert policy_names(reader_client.get(url, {"q": "POLICY"})) == ["DefaultPolicy"]
    assert policy_names(reader_client.get(url, {"q": "l", "sort": "-name"})) == ["Weekly-Long", "DefaultPolicy"]


def test_no_policy_matching_the_search_says_so(reader_client, policies):
    response = reader_client.get(reverse("vaults:policies", args=[policies.pk]), {"q": "<nightly>"})
    body = response.content.decode()
    assert policy_names(response) == []
    assert "No policies match '&lt;nightly&gt;'." in body and "This vault has no policies" not in body


@pytest.mark.parametrize("sort", ["schedule", "definition", "-vm_count", "pk", "name;drop", "--name", "", "\x00"])
def test_unknown_policy_sort_keys_fall_back_to_name(reader_client, policies, sort):
    response = reader_client.get(reverse("vaults:policies", args=[policies.pk]), {"sort": sort})
    assert response.status_code == 200
    assert policy_names(response) == ["Archive", "DefaultPolicy", "Weekly-Long"]


def test_the_policy_table_partial_answers_htmx(reader_client, policies):
    response = reader_client.get(reverse("vaults:policies", args=[policies.pk]), {"q": "weekly"},
                                 headers={**HTMX, "HX-Target": "policies"})
    body = response.content.decode()
    assert "<html" not in body and 'id="policy-table"' in body and "Weekly-Long" in body and "Archive" not in body


@pytest.mark.parametrize(("sort", "expected"), [
    ("name", ["app01", "db01", "web01", "web02"]),
    ("-name", ["web02", "web01", "db01", "app01"]),
    ("service", ["db01", "app01", "web01", "web02"]),
    ("status", ["web01", "web02", "app01", "db01"]),  # as it reads: Protected, Protected - (initial...), Error, Stopped
    ("-points", ["web01", "app01", "db01", "web02"]),
    ("newest", ["web01", "app01", "db01", "web02"]),  # no point yet: last
    ("-newest", ["web02", "db01", "app01", "web01"]),  # and first going down
    ("last", ["app01", "web02", "web01", "db01"]),  # blank first, ties by name
])
def test_protected_items_sort_by_every_column(reader_client, items, sort, expected):
    assert item_names(reader_client.get(reverse("vaults:protected", args=[items.pk]), {"sort": sort})) == expected


def test_protected_items_search_by_vm_name(reader_client, items):
    url = reverse("vaults:protected", args=[items.pk])
    assert item_names(reader_client.get(url, {"q": "WEB", "sort": "-name"})) == ["web02", "web01"]
    assert item_names(reader_client.get(url, {"q": "svc-a"})) == []  # the name only, not the cloud service


def test_no_protected_item_matching_the_search_says_so(reader_client, items):
    body = reader_client.get(reverse("vaults:protected", args=[items.pk]), {"q": "sql"}).content.decode()
    assert "No protected items match 'sql'." in body
    assert 'id="protected-table"' in body and "No virtual machines are protected" not in body


def test_a_vault_without_protected_items_still_says_how_to_protect(reader_client, vault):
    body = reader_client.get(reverse("vaults:protected", args=[vault.pk])).content.decode()
    assert "No virtual machines are protected by this vault." in body


@pytest.mark.parametrize("sort", ["item__vm__name", "status_label", "-policy", "recovery_points", "?"])
def test_unknown_protected_item_sort_keys_fall_back_to_name(reader_client, items, sort):
    response = reader_client.get(reverse("vaults:protected", args=[items.pk]), {"sort": sort})
    assert response.status_code == 200
    assert item_names(response) == ["app01", "db01", "web01", "web02"]


def test_the_protected_table_partial_answers_htmx(reader_client, items):
    response = reader_client.get(reverse("vaults:protected", args=[items.pk]), {"sort": "-name"},
                                 headers={**HTMX, "HX-Target": "protected-items"})
    body = response.content.decode()
    assert "<html" not in body and 'id="protected-table"' in body
    assert body.index("web02") < body.index("app01")


@pytest.mark.parametrize("name", ["vaults:policies", "vaults:protected"])
def test_another_subscriptions_vault_answers_404(client, outsider, items, name):
    client.force_login(outsider)
    assert client.get(reverse(name, args=[items.pk]), {"sort": "-name", "q": "web"}).status_code == 404
    assert client.get(reverse(name, args=[items.pk]), {"q": "web"}, headers={**HTMX, "HX-Target": "policies"}).status_code == 404


@pytest.mark.parametrize("name", ["vaults:policies", "vaults:protected"])
def test_the_tables_require_sign_in(client, items, name):
    response = client.get(reverse(name, args=[items.pk]), {"sort": "-name", "q": "web"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
