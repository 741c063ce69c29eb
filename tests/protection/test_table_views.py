"""The Policies and Protected Items tables: sorted and searched in the query, the state in the query string."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from .helpers import SCALE, SCALE_2, default_policy, failed_backup, make_policy, point, protected, stop_protection

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def policy_names(response) -> list[str]:
    return [row["policy"].name for row in response.context["rows"]]


def item_names(response) -> list[str]:
    return [item.item.vm.name for item in response.context["items"]]


@pytest.fixture
def policies(vault, owner, member):
    """Three policies: Archive protects two VMs, DefaultPolicy one, Weekly-Long none."""
    default, archive = default_policy(vault), make_policy(owner, vault, "Archive")
    make_policy(owner, vault, "Weekly-Long")
    protected(member, vault, archive, "vm01")
    protected(member, vault, archive, "vm02")
    protected(member, vault, default, "vm03")
    return vault


@pytest.fixture
def items(vault, member, vm_lab):
    """Four protected VMs that differ in every column.

    ====== ============ ================================= ============ ============
    name   service      status                            points (Mar) last backup
    ====== ============ ================================= ============ ============
    web01  tailspin-web Protected                         1, 2, 3      Completed
    vm05   scale-0000   Protection Stopped                5            Failed
    vm02   scale-0003   Protection Error                  2, 4         Failed
    web02  contoso-web  Protected - (initial backup ...)  none         (none)
    ====== ============ ================================= ============ ============
    """
    policy = default_policy(vault)
    rows = {name: protected(member, vault, policy, name, service)
            for name, service in (("web01", "tailspin-web"), ("vm05", SCALE), ("vm02", SCALE_2),
                                  ("web02", "contoso-web"))}
    for name, days in (("web01", [1, 2, 3]), ("vm05", [5]), ("vm02", [2, 4])):
        for day in days:
            point(rows[name], datetime(2026, 3, day, 3, tzinfo=UTC))
    for name in ("vm05", "vm02"):
        failed_backup(vm_lab, member, rows[name])
    stop_protection(member, rows["vm05"])
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
    ("name", ["vm02", "vm05", "web01", "web02"]),
    ("-name", ["web02", "web01", "vm05", "vm02"]),
    ("service", ["web02", "vm05", "vm02", "web01"]),
    ("status", ["web01", "web02", "vm02", "vm05"]),  # as it reads: Protected, Protected - (initial...), Error, Stopped
    ("-points", ["web01", "vm02", "vm05", "web02"]),
    ("newest", ["web01", "vm02", "vm05", "web02"]),  # no point yet: last
    ("-newest", ["web02", "vm05", "vm02", "web01"]),  # and first going down
    ("last", ["web02", "web01", "vm02", "vm05"]),  # blank first, ties by name
])
def test_protected_items_sort_by_every_column(reader_client, items, sort, expected):
    assert item_names(reader_client.get(reverse("vaults:protected", args=[items.pk]), {"sort": sort})) == expected


def test_protected_items_search_by_vm_name(reader_client, items):
    url = reverse("vaults:protected", args=[items.pk])
    assert item_names(reader_client.get(url, {"q": "WEB", "sort": "-name"})) == ["web02", "web01"]
    assert item_names(reader_client.get(url, {"q": "tailspin"})) == []  # the name only, not the cloud service


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
    assert item_names(response) == ["vm02", "vm05", "web01", "web02"]


def test_the_protected_table_partial_answers_htmx(reader_client, items):
    response = reader_client.get(reverse("vaults:protected", args=[items.pk]), {"sort": "-name"},
                                 headers={**HTMX, "HX-Target": "protected-items"})
    body = response.content.decode()
    assert "<html" not in body and 'id="protected-table"' in body
    assert body.index("web02") < body.index("vm02")


@pytest.mark.parametrize("name", ["vaults:policies", "vaults:protected"])
def test_another_subscriptions_vault_answers_404(client, outsider, items, name):
    client.force_login(outsider)
    assert client.get(reverse(name, args=[items.pk]), {"sort": "-name", "q": "web"}).status_code == 404
    assert client.get(reverse(name, args=[items.pk]), {"q": "web"}, headers={**HTMX, "HX-Target": "policies"}).status_code == 404


@pytest.mark.parametrize("name", ["vaults:policies", "vaults:protected"])
def test_the_tables_require_sign_in(client, items, name):
    response = client.get(reverse(name, args=[items.pk]), {"sort": "-name", "q": "web"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
