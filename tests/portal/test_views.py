from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def page_urls(vault) -> list[str]:
    return [reverse("home"), reverse("vaults:list"), reverse("vaults:dashboard", args=[vault.pk]), reverse("events")]


def test_every_page_and_stream_requires_login(client, vault):
    for url in page_urls(vault):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_login_page_is_in_the_classic_style(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"signin-panel" in response.content and b"csrfmiddlewaretoken" in response.content


def test_signed_in_user_sees_the_shell(client, member):
    client.force_login(member)
    response = client.get(reverse("vaults:list"))
    html = response.content.decode()
    assert response.status_code == 200
    for part in ('class="topbar"', 'class="leftnav"', 'class="commandbar"', 'id="new-drawer"', 'id="notifications"',
                 "RECOVERY SERVICES", "Backup Operator"):
        assert part in html
    assert 'class="selected"' in html


def test_empty_vault_list_tells_the_user_what_to_do(client, member):
    client.force_login(member)
    html = client.get(reverse("vaults:list")).content.decode()
    assert "You have no backup vaults" in html and "QUICK CREATE" in html


def test_user_without_subscription_is_told_to_ask_for_one(client, django_user_model):
    user = django_user_model.objects.create_user("lonely", password="x")
    client.force_login(user)
    assert "not a member of any subscription" in client.get(reverse("vaults:list")).content.decode()


def test_outsider_gets_404_for_another_subscriptions_vault(client, outsider, vault):
    client.force_login(outsider)
    assert client.get(reverse("vaults:dashboard", args=[vault.pk])).status_code == 404
    assert client.get(reverse("events") + f"?vault={vault.pk}").status_code == 404


def test_member_sees_their_vault(client, member, vault):
    client.force_login(member)
    response = client.get(reverse("vaults:dashboard", args=[vault.pk]))
    assert response.status_code == 200 and vault.name in response.content.decode()


def test_event_stream_refuses_unknown_channel_kinds(client, member):
    client.force_login(member)
    assert client.get(reverse("events") + "?nonsense=1").status_code == 404
    assert client.get(reverse("events") + "?vault=abc").status_code == 404


def test_logout_needs_post_with_csrf(member):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(reverse("logout")).status_code == 403
