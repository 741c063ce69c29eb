"""Who may call what: every endpoint with an outsider (404 for ids, nothing of ours in lists), a Reader (reads,
no writes), an Operator, and nobody (401); the session's CSRF check; expired and revoked tokens."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from api.models import PersonalAccessToken
from jobs.models import Job

from .conftest import ApiClient, Estate

pytestmark = [pytest.mark.django_db]

POLICY = {"name": "Nightly-two", "schedule": {"frequency": "daily", "times": ["01:00"]},
          "retention": [{"kind": "daily", "count": 7}]}

# (method, path, body): every operation of the API, with the estate's ids.
READS = [
    ("GET", "/subscriptions/{subscription}", None),
    ("GET", "/vaults/{vault}", None),
    ("GET", "/vaults/{vault}/discovered-vms", None),
    ("GET", "/vaults/{vault}/registered-items", None),
    ("GET", "/vaults/{vault}/registered-items/{registered}", None),
    ("GET", "/vaults/{vault}/protected-items", None),
    ("GET", "/vaults/{vault}/protected-items/{protected}", None),
    ("GET", "/vaults/{vault}/protected-items/{protected}/recovery-points", None),
    ("GET", "/vaults/{vault}/policies", None),
    ("GET", "/vaults/{vault}/policies/{policy}", None),
    ("GET", "/jobs/{job}", None),
]
LISTS = ["/subscriptions", "/vaults", "/jobs", "/operations-log"]
WRITES = [
    ("POST", "/vaults", {"name": "api-second", "region": "East US", "subscription": "{subscription}"}),
    ("PATCH", "/vaults/{vault}", {"replication": "lrs"}),
    ("PATCH", "/vaults/{vault}", {"soft_delete": {"enabled": True, "days": 30}}),
    ("DELETE", "/vaults/{vault}?reason=done", None),
    ("POST", "/vaults/{vault}/discover", {}),
    ("POST", "/vaults/{vault}/registered-items", {"vm": "{free_vm}"}),
    ("DELETE", "/vaults/{vault}/registered-items/{registered}", None),
    ("POST", "/vaults/{vault}/policies", POLICY),
    ("PUT", "/vaults/{vault}/policies/{policy}", {**POLICY, "name": "DefaultPolicy"}),
    ("DELETE", "/vaults/{vault}/policies/{policy}", None),
    ("POST", "/vaults/{vault}/protected-items", {"registered_item": "{registered}", "policy": "{policy}"}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/backup", {}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/stop-protection", {"delete_data": False}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/stop-protection", {"delete_data": True}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/delete-data", {}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/undelete", {}),
    ("POST", "/vaults/{vault}/protected-items/{protected}/restore",
     {"vm_name": "apirs1", "cloud_service": "scale-0000", "storage_account": "{storage_account}"}),
    ("POST", "/jobs/{job}/cancel", {}),
]


def fill(value, estate: Estate):
    """The template's "{name}"s replaced by the estate's ids (a whole "{id}" string becomes the number)."""
    if isinstance(value, dict):
        return {key: fill(item, estate) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in vars(estate):
        return getattr(estate, value[1:-1])
    return value.format(**vars(estate)) if isinstance(value, str) else value


def call(client: ApiClient, method: str, path: str, body, estate: Estate):
    return client.call(method, fill(path, estate), fill(body, estate) if body is not None else None)


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"] == "application/problem+json"
    problem = json.loads(response.content)
    assert problem["status"] == status and problem["detail"] and problem["title"] and problem["type"]
    if code:
        assert problem["code"] == code, problem
    return problem


def test_nobody_gets_401_from_every_endpoint(estate):
    anonymous = ApiClient()
    for method, path, body in [*READS, *WRITES, *(("GET", p, None) for p in LISTS)]:
        problem = assert_problem(call(anonymous, method, path, body, estate), 401, "NotAuthenticated")
        assert "recommendation" in problem


def test_an_outsider_sees_none_of_it(estate, as_outsider, other_subscription):
    for method, path, body in [*READS, *WRITES]:
        assert_problem(call(as_outsider, method, path, body, estate), 404, "NotFound")
    for path in LISTS:
        response = as_outsider.get(path)
        assert response.status_code == 200, path
        items = response.json()["items"]
        assert all(row.get("subscription") in (None, other_subscription.pk) for row in items), (path, items)
        assert estate.vault not in {row.get("vault") for row in items} | {row["id"] for row in items if path == "/vaults"}
    assert [row["id"] for row in as_outsider.get("/subscriptions").json()["items"]] == [other_subscription.pk]
    assert as_outsider.get("/jobs").json()["items"] == []
    assert Job.objects.filter(requested_by__username="outsider").count() == 0  # nothing was started


def test_a_reader_reads_everything_and_writes_nothing(estate, as_reader):
    for method, path, body in READS:
        assert call(as_reader, method, path, body, estate).status_code == 200, path
    for path in LISTS:
        assert as_reader.get(path).json()["items"], path
    before = Job.objects.count()
    for method, path, body in WRITES:
        problem = assert_problem(call(as_reader, method, path, body, estate), 403, "NotAllowed")
        assert problem["detail"].startswith("Only Backup"), problem
    assert Job.objects.count() == before


# What an Operator gets, in this order (each write may change what the next one finds).
OPERATOR = {
    ("POST", "/vaults"): 201,
    ("PATCH", "/vaults/{vault}"): 403,  # storage replication and soft delete are an administrator's
    ("DELETE", "/vaults/{vault}?reason=done"): 403,
    ("POST", "/vaults/{vault}/discover"): 202,
    ("POST", "/vaults/{vault}/registered-items"): 202,
    ("DELETE", "/vaults/{vault}/registered-items/{registered}"): 409,  # protected: stop protection first
    ("POST", "/vaults/{vault}/policies"): 403,
    ("PUT", "/vaults/{vault}/policies/{policy}"): 403,
    ("DELETE", "/vaults/{vault}/policies/{policy}"): 403,
    ("POST", "/vaults/{vault}/protected-items"): 409,  # already protected
    ("POST", "/vaults/{vault}/protected-items/{protected}/backup"): 202,
    ("POST", "/vaults/{vault}/protected-items/{protected}/stop-protection"): {False: 409, True: 403},
    ("POST", "/vaults/{vault}/protected-items/{protected}/delete-data"): 403,
    ("POST", "/vaults/{vault}/protected-items/{protected}/undelete"): 409,  # not soft deleted
    ("POST", "/vaults/{vault}/protected-items/{protected}/restore"): 202,
    ("POST", "/jobs/{job}/cancel"): 409,  # the backup job ended: not in a cancellable state
}


def test_an_operator_starts_jobs_and_is_refused_what_is_not_theirs(estate, as_member):
    for method, path, body in READS:
        assert call(as_member, method, path, body, estate).status_code == 200, path
    for method, path, body in WRITES:
        expected = OPERATOR[(method, path)]
        if isinstance(expected, dict):
            expected = expected[body["delete_data"]]
        response = call(as_member, method, path, body, estate)
        if expected >= 400:
            assert_problem(response, expected)
            continue
        assert response.status_code == expected, (path, response.content[:400])
        if expected == 202:
            job = response.json()
            assert response["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}"
            assert as_member.get(job["url"]).json()["status"] == "not_started"


def test_a_backup_already_running_is_a_409_with_the_pages_sentence(estate, as_member):
    url = f"/vaults/{estate.vault}/protected-items/{estate.protected}/backup"
    assert as_member.post(url).status_code == 202
    problem = assert_problem(as_member.post(url), 409, "OperationInProgress")
    assert problem["detail"] == "Another operation is in progress on this item." and problem["recommendation"]


def test_cancel_a_job_that_has_not_started(estate, as_member, as_reader):
    job = as_member.post(f"/vaults/{estate.vault}/discover").json()
    assert_problem(as_reader.post(f"/jobs/{job['id']}/cancel"), 403, "NotAllowed")
    response = as_member.post(f"/jobs/{job['id']}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    problem = assert_problem(as_member.post(f"/jobs/{job['id']}/cancel"), 409, "CancelRefused")
    assert problem["detail"] == "The job is not in a cancellable state."


def test_validation_errors_are_problems(estate, as_member, as_owner):
    problem = assert_problem(as_member.call("POST", "/vaults", {"name": 5}), 422, "ValidationError")
    assert problem["errors"]
    assert_problem(as_member.post("/vaults", {"name": "1bad", "region": "East US", "subscription": estate.subscription}),
                   400, "InvalidRequest")
    assert_problem(as_member.get("/jobs?start=2026-01-02T00:00"), 400, "InvalidRequest")  # FROM without TO
    assert_problem(as_member.get("/jobs?cursor=nonsense"), 400, "InvalidCursor")
    bad = {**POLICY, "retention": [{"kind": "weekly", "count": 4, "weekdays": ["sunday"]}]}
    problem = assert_problem(as_owner.post(f"/vaults/{estate.vault}/policies", bad), 400, "InvalidPolicy")
    assert {e["field"] for e in problem["errors"]}


def test_session_needs_the_csrf_token_for_unsafe_methods(estate, member):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.get(f"/api/v1/vaults/{estate.vault}").status_code == 200
    assert_problem(browser.post(f"/api/v1/vaults/{estate.vault}/discover"), 403, "CsrfFailed")
    browser.get("/vaults/")  # a page sets the CSRF cookie, as the docs page does
    token = browser.cookies["csrftoken"].value
    response = browser.post(f"/api/v1/vaults/{estate.vault}/discover", headers={"X-CSRFToken": token})
    assert response.status_code == 202


def test_expired_and_revoked_tokens_answer_401(estate, member):
    from datetime import timedelta

    from django.utils import timezone

    from api import tokens

    token, secret = tokens.create_token(member, "short", 1)
    client = ApiClient(secret)
    assert client.get(f"/vaults/{estate.vault}").status_code == 200
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert "expired" in assert_problem(client.get(f"/vaults/{estate.vault}"), 401, "NotAuthenticated")["detail"]

    token, secret = tokens.create_token(member, "revoked", None)
    client = ApiClient(secret)
    assert client.post(f"/vaults/{estate.vault}/discover").status_code == 202
    tokens.revoke_token(member, token)
    assert "revoked" in assert_problem(client.get(f"/vaults/{estate.vault}"), 401)["detail"]
    assert_problem(ApiClient(secret[:-2] + "xx").get("/vaults"), 401)


def test_the_token_secret_is_shown_once_and_stored_nowhere(member, client, estate):
    client.force_login(member)
    response = client.post("/account/tokens/", {"name": "ci", "days": "30", "once": "form-1"})
    page = response.content.decode()
    again = client.post("/account/tokens/", {"name": "ci", "days": "30", "once": "form-1"}, follow=True)
    assert "was sent already" in again.content.decode()  # a reload sending the form again makes no second token
    token = PersonalAccessToken.objects.get(user=member, name="ci")  # one: the second post made none
    secret = page.split('id="token-secret" class="token-secret" value="')[1].split('"')[0]
    assert secret.startswith(token.prefix) and len(secret) > 40
    assert ApiClient(secret).get("/vaults").status_code == 200
    assert secret not in again.content.decode()
    for url in ("/account/tokens/", "/vaults/", f"/vaults/{estate.vault}/dashboard/", "/jobs/"):
        assert secret not in client.get(url).content.decode(), url
    assert secret not in ApiClient(secret).get("/operations-log").content.decode()
    from jobs.models import OperationLogEntry

    entry = OperationLogEntry.objects.get(operation="create_api_token", item_name="ci")
    assert entry.user == member and secret not in json.dumps(entry.details)
    assert token.secret_hash != secret and secret not in str(vars(token))
    # Revoking from the page: the token stops working, and another user's token is not theirs to revoke.
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiClient(secret).get("/vaults").status_code == 401
    assert OperationLogEntry.objects.filter(operation="revoke_api_token", item_name="ci").exists()


def test_a_user_cannot_revoke_another_users_token(member, reader, client):
    from api import tokens

    token, secret = tokens.create_token(reader, "theirs", None)
    client.force_login(member)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked is None and "theirs" not in client.get("/account/tokens/").content.decode()


def test_the_tokens_page_needs_sign_in(client):
    assert client.get("/account/tokens/").status_code == 302


def test_unknown_paths_and_wrong_methods_are_problems_too(estate, as_member, client):
    problem = assert_problem(as_member.get("/no-such-thing/3"), 404, "NoSuchPath")
    assert "/api/v1/no-such-thing/3" in problem["detail"]
    assert_problem(client.get("/api/v1/vaults/1/nowhere"), 404, "NoSuchPath")  # signed out too: no sign-in redirect
    response = as_member.call("PUT", "/subscriptions", {})
    problem = assert_problem(response, 405, "MethodNotAllowed")
    assert "GET" in response["Allow"] and "GET" in problem["detail"]
