"""The Jobs page, its partials, Details and CANCEL: filters, sorting, paging and who may do what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job, Operation, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def rows(response) -> list[str]:
    return [job.item_name for job in response.context["job_page"].jobs]


def test_the_jobs_page_shows_the_last_24_hours_by_default(member_client, make_job):
    make_job(item_name="recent")
    make_job(item_name="old", created=timezone.now() - timedelta(days=2))
    response = member_client.get("/jobs/")
    assert response.status_code == 200
    assert rows(response) == ["recent"]
    assert b"Last 24 hours" in response.content


def test_filters_come_from_the_query_string(member_client, make_job):
    failed = make_job(item_name="broken")
    failed.claim("w")
    failed.fail("X", "It broke.", [])
    make_job(item_name="fine", operation=Operation.RESTORE)
    assert rows(member_client.get("/jobs/?status=failed")) == ["broken"]
    assert rows(member_client.get("/jobs/?operation=restore")) == ["fine"]
    assert rows(member_client.get("/jobs/?item=BRO")) == ["broken"]


def test_from_and_to_go_together_and_in_order(member_client, make_job):
    make_job(item_name="then", created=timezone.now() - timedelta(days=3))
    response = member_client.get("/jobs/?start=2020-01-02T00:00")
    assert "Give both FROM and TO, or neither" in response.content.decode()
    response = member_client.get("/jobs/?start=2020-01-02T00:00&end=2020-01-01T00:00")
    assert "FROM must be before TO." in response.content.decode()
    start = (timezone.now() - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    end = (timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert rows(member_client.get(f"/jobs/?start={start}&end={end}")) == ["then"]


def test_columns_sort_both_ways(member_client, make_job):
    for name in ("b", "c", "a"):
        make_job(item_name=name)
    assert rows(member_client.get("/jobs/?sort=item")) == ["a", "b", "c"]
    assert rows(member_client.get("/jobs/?sort=-item")) == ["c", "b", "a"]
    assert rows(member_client.get("/jobs/?sort=nonsense")) == ["a", "c", "b"]  # newest first


def test_paging_asks_for_one_row_more_and_never_counts(member_client, make_job, django_assert_max_num_queries):
    for n in range(55):
        make_job(item_name=f"vm{n:03d}")
    with django_assert_max_num_queries(12) as captured:
        page = member_client.get("/jobs/").context["job_page"]
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert len(page.jobs) == 50 and page.has_next and page.next_url == "?page=2"
    second = member_client.get("/jobs/?page=2").context["job_page"]
    assert len(second.jobs) == 5 and not second.has_next and second.previous_url == "?"


def test_the_rows_partial_answers_htmx_refreshes(member_client, make_job):
    make_job(item_name="vm01")
    response = member_client.get("/jobs/", headers={"HX-Request": "true", "HX-Target": "job-rows"})
    assert b"<html" not in response.content and b"vm01" in response.content


def test_a_row_and_the_details_render_for_members(member_client, make_job):
    job = make_job(item_name="vm01")
    job.claim("w")
    job.fail("UserErrorVmNotFound", "The VM no longer exists.", ["Remove its protection."])
    row = member_client.get(f"/jobs/{job.pk}/row/")
    assert f'id="job-row-{job.pk}"'.encode() in row.content and b"Failed" in row.content
    details = member_client.get(f"/jobs/{job.pk}/", headers={"HX-Request": "true"})
    text = details.content.decode()
    assert "UserErrorVmNotFound" in text and "The VM no longer exists." in text and "Remove its protection." in text
    page = member_client.get(f"/jobs/{job.pk}/")
    assert b"<html" in page.content and f"job={job.pk}".encode() in page.content


def test_outsiders_get_404_for_another_subscriptions_job(client, outsider, make_job):
    job = make_job()
    client.force_login(outsider)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/row/").status_code == 404
    assert client.post("/jobs/cancel/", {"job": job.pk}).status_code == 404
    assert rows(client.get("/jobs/")) == []


def test_anonymous_users_are_sent_to_sign_in(client, make_job):
    job = make_job()
    assert client.get("/jobs/").status_code == 302
    assert client.get(f"/jobs/{job.pk}/").status_code == 302


def test_a_member_cancels_a_running_job(member_client, make_job):
    job = make_job(item_name="vm01")
    job.claim("w")
    response = member_client.post("/jobs/cancel/", {"job": job.pk}, headers={"HX-Request": "true"})
    note = json.loads(response.headers["HX-Trigger"])["portal:message"]
    assert note == {"id": f"job-{job.pk}", "text": "Cancelling: backing up 'vm01'…", "state": "running",
                    "url": f"/jobs/{job.pk}/"}
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLING


def test_cancel_refusals_say_why(member_client, make_job):
    done = make_job()
    done.claim("w")
    done.complete()
    response = member_client.post("/jobs/cancel/", {"job": done.pk}, headers={"HX-Request": "true"})
    assert "not in a cancellable state" in json.loads(response.headers["HX-Trigger"])["portal:message"]["text"]
    fixed = make_job(cancellable=False)
    response = member_client.post("/jobs/cancel/", {"job": fixed.pk}, headers={"HX-Request": "true"})
    assert "not supported for this job type" in json.loads(response.headers["HX-Trigger"])["portal:message"]["text"]


def test_readers_can_view_but_not_cancel(client, reader, make_job):
    job = make_job()
    job.claim("w")
    client.force_login(reader)
    page = client.get("/jobs/")
    assert page.status_code == 200 and b"cmd-job-cancel" not in page.content
    response = client.post("/jobs/cancel/", {"job": job.pk})
    assert response.status_code == 302
    assert Job.objects.get(pk=job.pk).status == Status.IN_PROGRESS


def test_the_strip_renders_the_users_running_jobs_on_page_load(member_client, make_job):
    make_job(item_name="vm01", operation=Operation.REGISTER)
    content = member_client.get("/jobs/").content.decode()
    assert 'id="initial-notes"' in content and "Registering &#x27;vm01&#x27;" not in content
    assert "Registering 'vm01'\\u2026" in content or "Registering 'vm01'…" in content


def test_notes_endpoint_returns_running_and_asked_for_jobs(member_client, make_job):
    running = make_job()
    ended = make_job()
    ended.claim("w")
    ended.complete()
    body = member_client.get(f"/jobs/notes/?ids=job-{ended.pk},nonsense").json()
    assert {note["job"] for note in body["notes"]} == {running.pk, ended.pk}


def test_the_job_channel_is_open_to_members_only(make_job, member, outsider):
    from portal import events

    job = make_job()
    assert events.authorize_channel(member, "job", str(job.pk)) == f"job:{job.pk}"
    assert events.authorize_channel(outsider, "job", str(job.pk)) is None


def test_status_groups_serve_dashboard_links(member_client, make_job):
    for status in ("completed", "completed_with_warnings", "failed"):
        make_job(item_name=status, status=status)
    assert sorted(rows(member_client.get("/jobs/?status=succeeded"))) == ["completed", "completed_with_warnings"]


def test_the_details_say_when_a_job_is_parked_or_waits_for_the_job_service(member_client, make_job):
    from datetime import timedelta

    from django.utils import timezone

    parked = make_job(item_name="vm01", enqueued=timezone.now())
    parked.claim("w")
    parked.park(timezone.now() + timedelta(seconds=8))
    text = member_client.get(f"/jobs/{parked.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="job-details-waiting"' in text and "holds no worker meanwhile" in text
    assert 'id="job-details-queued"' not in text

    unsent = make_job(item_name="vm02", enqueued=None)
    text = member_client.get(f"/jobs/{unsent.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="job-details-queued"' in text and "starts as soon as it answers again" in text
    assert 'id="job-details-waiting"' not in text
