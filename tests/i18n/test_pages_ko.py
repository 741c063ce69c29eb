"""Every page, dialog and wizard step in Korean, for an Administrator whose vault holds a protected VM with a
recovery point, a second policy and jobs: no English text of the catalogues is left on them.

The pages are those of the URL conf (tests/portal/test_every_url.py walks it the same way), asked for in Korean
by the browser's Accept-Language, then again with Accept-Language English and Korean saved by the top bar's
switch. The dialogs and the wizards' later steps are opened the way their buttons open them.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.backup.helpers import back_up
from tests.fixtures.vaults import protect_vm, quick_vault
from tests.portal.test_every_url import FOR_MACHINES, every_route

from .catalogues import translated_away, untranslated, visible_texts

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# Text that reads the same in Korean: the names of products and formats, which the Korean portal kept in Latin
# letters. Anything else found in English is a string that was not marked or not translated.
SAME_IN_KOREAN = frozenset({
    "RSV-VAULT-KEY-1 …",  # the export format's first line, typed as it is
})
# Pages for programs, not people: JSON, a stream, the REST API and its docs (the admin site is in Django's words).
NOT_PAGES = ("api:", "events", "logout", "set_language", "monitoring:")


@dataclasses.dataclass
class Estate:
    vault: object
    registered: object
    protected: object
    policy: object
    ids: list[int]


@pytest.fixture
def estate(lab_subscription, owner, member, vault_stores_removed) -> Estate:
    from jobs.models import Job
    from vaults.models import Policy, RegisteredItem, VirtualMachine
    from vaults.policy.defaults import default_policy
    from vaults.services.policies import create_policy

    vault = quick_vault(owner, lab_subscription, "contoso-vault", "East US")
    protected = protect_vm(member, vault, "contoso-web", "web01")
    back_up(member, protected)
    policy = create_policy(owner, vault, dataclasses.replace(default_policy(), name="Nightly"))
    ids = {lab_subscription.pk, vault.pk, protected.pk, policy.pk,
           *Job.objects.values_list("pk", flat=True), *Policy.objects.filter(vault=vault).values_list("pk", flat=True),
           *RegisteredItem.objects.filter(vault=vault).values_list("pk", flat=True),
           *VirtualMachine.objects.filter(subscription=lab_subscription).values_list("pk", flat=True)}
    return Estate(vault, protected.item, protected, policy, sorted(ids))


def page_urls(estate: Estate) -> list[str]:
    """Every page of the URL conf with each id that opens it, and the dialogs with what their buttons send."""
    urls = []
    for route in every_route():
        if route.namespace == admin.site.name or route.label in FOR_MACHINES or route.label.startswith(NOT_PAGES):
            continue
        choices = [estate.ids for _name in route.parameters]
        urls += [url for values in itertools.product(*choices)
                 if (url := route.url(dict(zip(route.parameters, values, strict=True)))) is not None]
    pk, item, registered = estate.vault.pk, estate.protected.pk, estate.registered.pk
    return urls + [
        f"{reverse('vaults:protect_dialog', args=[pk])}?items={registered}",
        f"{reverse('vaults:restore_dialog', args=[pk])}?items={item}",
        f"{reverse('vaults:stop_dialog', args=[pk])}?items={item}",
        f"{reverse('vaults:policy_edit', args=[pk])}?policies={estate.policy.pk}",
    ]


def wizard_steps(client, estate: Estate) -> dict[str, str]:
    """The wizards' later steps, as their NEXT buttons post them."""
    pk = estate.vault.pk
    point = estate.protected.recovery_points.get()
    steps = {
        "restore, step 2": client.post(reverse("vaults:restore", args=[pk]),
                                       {"item": estate.protected.pk, "page": "1", "point": point.pk, "nav": "next"}),
        "policy, step 2": client.post(reverse("vaults:policy_save", args=[pk]),
                                      {"page": "1", "nav": "next", "name": "Weekly", "frequency": "daily",
                                       "time": "22:00", "daily_on": "1", "daily_count": "30"}),
    }
    return {name: response.content.decode() for name, response in steps.items() if response.status_code == 200}


def english_left(client, urls: list[str]) -> dict[str, set[str]]:
    english = translated_away()
    left, seen = {}, 0
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        seen += 1
        html = response.content.decode()
        assert response["Content-Language"] == "ko", url
        if found := untranslated(html, english, SAME_IN_KOREAN):
            left[url] = found
    assert seen >= 20, f"only {seen} pages answered"
    return left


def test_every_page_in_korean_by_accept_language(client, owner, estate):
    client.force_login(owner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ko-KR,ko;q=0.9,en;q=0.5"
    left = english_left(client, page_urls(estate))
    for name, html in wizard_steps(client, estate).items():
        if found := untranslated(html, translated_away(), SAME_IN_KOREAN):
            left[name] = found
    assert not left, "English left on Korean pages:\n" + "\n".join(f"{u}: {sorted(f)}" for u, f in left.items())


def test_every_page_in_korean_by_the_saved_choice_over_an_english_browser(client, owner, estate):
    client.force_login(owner)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    vault_page = reverse("vaults:dashboard", args=[estate.vault.pk])
    assert 'lang="en"' in client.get(vault_page).content.decode()
    client.post(reverse("set_language"), {"language": "ko", "next": vault_page})
    client.cookies.clear()  # the choice is kept on the user, not only in this browser's cookie
    client.force_login(owner)
    left = english_left(client, page_urls(estate))
    assert not left, "English left on Korean pages:\n" + "\n".join(f"{u}: {sorted(f)}" for u, f in left.items())


def test_korean_dates_follow_the_korean_order(client, owner, estate):
    from jobs.models import Job

    client.force_login(owner)
    job = Job.objects.filter(vault=estate.vault).latest("pk")
    english = visible_texts(client.get(reverse("jobs:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode())
    korean = visible_texts(client.get(reverse("jobs:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode())
    start = job.start_time.astimezone()
    assert any(text.startswith(f"{start:%-m/%-d/%Y} ") and text.endswith(("AM", "PM")) for text in english), english
    assert any(text.startswith(f"{start:%Y}. {start:%-m}. {start:%-d}. 오") for text in korean), korean
