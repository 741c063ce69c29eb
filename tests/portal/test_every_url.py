"""Every URL of the project, taken from the URL conf, against a signed-in outsider and an anonymous visitor.

The URLs are not listed here: they are read from ``get_resolver()``, and every
parameter of a URL's path is filled with the ids of another subscription's
objects, made the way its users make them (QUICK CREATE, DISCOVER, REGISTER,
PROTECT, a policy, a job). A new URL that takes an object id is therefore
checked the day it is added, and one that forgets its access check fails here.
A new URL without an id in its path fails until it is added to
``NO_ID_IN_PATH`` with the reason it is safe for anyone signed in. The admin
site has its own rule (staff only): it sends the outsider, who is not staff,
to its sign-in.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib import admin
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils.regex_helper import normalize

from tests.fixtures.vaults import protect_vm, quick_vault

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

# The URLs whose path takes no object id, and why each is safe for anyone signed in. They answer from what the
# signed-in user may see; those that take ids in the query or the form get the other subscription's ids there in
# test_ids_in_the_query_or_the_form_are_checked_too.
NO_ID_IN_PATH = {
    "home": "redirects to the vault list",
    "logout": "signs the user out",
    "events": "the user's own channel; ?vault= and ?job= are checked before the stream opens",
    "vaults:list": "the vaults of the user's subscriptions",
    "vaults:quick_create": "a new vault in one of the user's subscriptions (?subscription= is looked up among them)",
    "vaults:subscriptions": "the user's subscriptions; POST adds a new one",
    "vaults:machines": "the VMs of the user's subscriptions, read-only",
    "jobs:list": "the jobs of the user's subscriptions",
    "jobs:cancel": "the job is named in the form and looked up among the user's jobs",
    "jobs:notes": "?ids= are looked up among the user's own jobs",
    "api:list_subscriptions": "the REST API's list of the user's subscriptions",
    "api:list_vaults": "the REST API's list of the vaults of the user's subscriptions",
    "api:create_vault": "the REST API's quick create: the subscription in the body is looked up among the user's",
    "api:list_jobs": "the REST API's list of the jobs of the user's subscriptions",
    "api:operations_log": "the REST API's operations log of the user's subscriptions",
    "tokens:list": "the user's own access tokens",
    "set_language": "saves the signed-in user's own language; the page to go back to must be on this site",
    "api:api-root": "the REST API's root: leads to its docs",
}
# Pages anyone may open without signing in.
PUBLIC = {
    "login": "the sign-in page",
    "admin:login": "the admin site's sign-in page",
    "api:openapi-json": "the REST API's schema: no data",
    "api:openapi-view": "the REST API's docs page: no data",
}
# Pages for machines, not people: no sign-in, their own guard, tested in tests/monitoring.
FOR_MACHINES = {
    "monitoring:metrics": "Prometheus: a bearer token or an allowed address; figures of every subscription, by design",
    "monitoring:healthz": "load balancers: ok/fail per check, nothing else",
}
# Path parameters that name no object, with a value their pattern accepts.
NOT_AN_OBJECT = {
    "app_label": "vaults",  # the admin site's page of one app's models
}
# No row of any table has this id.
NOWHERE = 987_654_321
PARAMETER = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern of the project, with the patterns that lead to it from the root."""

    patterns: tuple
    namespace: str
    name: str | None

    @property
    def route(self) -> str:
        return "".join(str(pattern).removeprefix("^") for pattern in self.patterns)

    @property
    def label(self) -> str:
        name = self.name or self.route
        return f"{self.namespace}:{name}" if self.namespace else name

    @property
    def parameters(self) -> list[str]:
        names: list[str] = []
        for pattern in self.patterns:
            names += list(pattern.converters) if isinstance(pattern, RoutePattern) else list(pattern.regex.groupindex)
        return names

    @property
    def is_admin_site(self) -> bool:
        return self.namespace == admin.site.name

    def url(self, values: dict[str, object]) -> str | None:
        """The URL with these values, or None when the pattern refuses one of them."""
        parts = []
        for pattern in self.patterns:
            if isinstance(pattern, RoutePattern):
                converters = pattern.converters
                parts.append(PARAMETER.sub(lambda m, c=converters: str(c[m["name"]].to_url(values[m["name"]])), str(pattern)))
            else:
                template, _names = normalize(pattern.regex.pattern)[0]
                parts.append(template % {name: values[name] for name in pattern.regex.groupindex})
        url = "/" + "".join(parts)
        try:
            found = resolve(url)
        except Resolver404:
            return None
        return url if found.route.removeprefix("^") == self.route else None


def every_route(patterns=None, prefix: tuple = (), namespace: str = "") -> list[Route]:
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            found += every_route(entry.url_patterns, (*prefix, entry.pattern), inner)
        else:
            assert isinstance(entry, URLPattern)
            found.append(Route((*prefix, entry.pattern), namespace, entry.name))
    return found


@dataclass
class World:
    """Another subscription's objects: what its people made, and every id they hold."""

    names: set[str]
    ids: list[int]
    job_ids: list[int]
    subscription_id: int


@pytest.fixture
def world(lab_subscription, owner, member) -> World:
    from jobs.models import Job
    from vaults.models import Policy, RegisteredItem, Vault, VirtualMachine
    from vaults.operations.maintenance import Verify
    from vaults.policy.defaults import default_policy
    from vaults.services.policies import create_policy

    vault = quick_vault(owner, lab_subscription, "fabrikam-vault-7", "East US", Vault.Replication.LRS)
    item = protect_vm(member, vault, "contoso-web", "web01")
    create_policy(owner, vault, dataclasses.replace(default_policy(), name="Nightly"))
    Verify.start_for(member, vault)  # a job still queued
    jobs = list(Job.objects.filter(subscription=lab_subscription).values_list("pk", flat=True))
    ids = {lab_subscription.pk, vault.pk, item.pk, *jobs}
    for model in (Policy, RegisteredItem):
        ids |= set(model.objects.filter(vault=vault).values_list("pk", flat=True))
    ids |= set(VirtualMachine.objects.filter(subscription=lab_subscription).values_list("pk", flat=True))
    vm = item.item.vm
    return World(names={lab_subscription.name, vault.name, vm.name, vm.cloud_service}, ids=sorted(ids), job_ids=jobs,
                 subscription_id=lab_subscription.pk)


@pytest.fixture
def other_subscription(world, lab_fabric):
    """The outsider's own subscription, under an id none of the world's objects has: else a URL that answers for the
    outsider's own subscription (rightly) would look like a leak of the object that shares its id."""
    from vaults.models import Subscription

    while True:
        mine = Subscription.objects.create(name="Other subscription", subscription_id="00000000-0000-0000-0000-00000000000b",
                                           host=lab_fabric.host, protocol=Subscription.Protocol.HTTP)
        if mine.pk not in world.ids:
            return mine
        mine.delete()


def combinations(route: Route, ids: list[int]) -> list[dict[str, object]]:
    choices = [[NOT_AN_OBJECT[name]] if name in NOT_AN_OBJECT else ids for name in route.parameters]
    return [dict(zip(route.parameters, values, strict=True)) for values in itertools.product(*choices)]


def urls_of(route: Route, ids: list[int]) -> list[str]:
    urls = [route.url(values) for values in combinations(route, ids)]
    missing = [values for values, url in zip(combinations(route, ids), urls, strict=True) if url is None]
    assert not missing, f"{route.label}: no URL for {missing[:3]}; a parameter that is no object id goes in NOT_AN_OBJECT"
    return urls


def answer(client, method: str, url: str):
    # A stream (the events page) is never read: it would wait for events. Nor closed: closing a response sends
    # request_finished, which closes the test database's connection.
    return getattr(client, method)(url)


def is_redirect_to(response, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].split("?")[0] == login_url


def test_every_url_with_an_id_in_its_path_answers_404_to_an_outsider(client, outsider, world):
    """The outsider administers a subscription of their own, so only the object's subscription keeps them out."""
    assert not outsider.is_staff
    client.force_login(outsider)
    admin_pages = (reverse("admin:login"), reverse("admin:index"))
    problems, checked = [], 0
    for route in every_route():
        if route.label in PUBLIC or route.label in FOR_MACHINES:
            continue
        if not route.parameters and not route.is_admin_site:
            if route.label not in NO_ID_IN_PATH:
                problems.append(f"{route.label} ({route.route}) takes no id in its path: add it to NO_ID_IN_PATH "
                                "with why it is safe for anyone signed in")
            continue
        for method in ("get", "post"):
            # Refused for what the request is (the method, or an API body that does not parse), the same for an id
            # no row has: nothing was looked up, so the answer says nothing of the object.
            nowhere = answer(client, method, urls_of(route, [NOWHERE])[0]).status_code
            refused_before_lookup = nowhere in (400, 405, 422)
            for url in urls_of(route, world.ids):
                response = answer(client, method, url)
                checked += 1
                if route.is_admin_site:
                    # Staff only, and the outsider is not staff: sent to its login, or to its index (which is).
                    ok = any(is_redirect_to(response, page) for page in admin_pages)
                else:
                    ok = response.status_code == 404 or (response.status_code == nowhere and refused_before_lookup)
                if not ok:
                    problems.append(f"{method.upper()} {url} ({route.label}): {response.status_code}")
    assert not problems, "the outsider reached another subscription's objects, or a URL is unaccounted for:\n" + "\n".join(
        problems)
    assert checked >= 2 * len(world.ids)


def test_no_page_without_an_id_shows_an_outsider_another_subscriptions_objects(client, outsider, world):
    client.force_login(outsider)
    for route in every_route():
        if route.parameters or route.is_admin_site or route.label in FOR_MACHINES:
            continue
        response = answer(client, "get", route.url({}))
        assert response.status_code in (200, 204, 302, 405), f"{route.label}: {response.status_code}"
        if not response.streaming:
            shown = {name for name in world.names if name in response.content.decode()}
            assert not shown, f"{route.label} shows the outsider {shown}"


def test_ids_in_the_query_or_the_form_are_checked_too(client, outsider, world):
    from portal import events

    client.force_login(outsider)
    for kind in sorted(events._channel_checks):
        for object_id in world.ids:
            response = answer(client, "get", f"{reverse('events')}?{kind}={object_id}")
            assert response.status_code == 404, f"events ?{kind}={object_id}: {response.status_code}"
    for job_id in world.job_ids:
        assert client.post(reverse("jobs:cancel"), {"job": job_id}).status_code == 404, job_id
    notes = client.get(reverse("jobs:notes"), {"ids": ",".join(f"job-{pk}" for pk in world.job_ids)})
    assert notes.json() == {"notes": []}
    page = client.get(reverse("vaults:quick_create"), {"subscription": world.subscription_id}).content.decode()
    assert not {name for name in world.names if name in page}


def test_anonymous_visitors_are_sent_to_sign_in_from_every_url(client, world):
    login_pages = {resolve_url(settings.LOGIN_URL), reverse("admin:login")}
    problems = []
    for route in every_route():
        if route.label in FOR_MACHINES:
            continue
        if route.label in PUBLIC:
            assert client.get(route.url({})).status_code == 200, route.label
            continue
        for url in urls_of(route, world.ids):
            for method in ("get", "post"):
                response = answer(client, method, url)
                # 405: the method is refused to anyone (the REST API says so before asking who is calling).
                ok = response.status_code in (401, 403, 404, 405) or any(is_redirect_to(response, page) for page in login_pages)
                if not ok:
                    problems.append(f"{method.upper()} {url} ({route.label}): {response.status_code}")
    assert not problems, "answered a visitor who is not signed in:\n" + "\n".join(problems)
