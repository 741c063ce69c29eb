"""What a person sees: a job started elsewhere shows live in the strip and on the Jobs page, without reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_running_job_shows_progress_and_completion_in_the_strip_and_the_jobs_page_of_another_tab(
    page, context, sign_in, portal_server, celery_worker_process, member, vault, start_work, screenshot_dir
):
    sign_in(page, member)
    jobs_tab = context.new_page()
    jobs_tab.goto(f"{portal_server}/jobs/")
    for tab in (page, jobs_tab):
        tab.wait_for_selector("body[data-live='1']")
        tab.evaluate("window.__sameDocument = true")

    job = start_work(item="vm01", steps=15, delay=0.2, subtasks=["Take Snapshot", "Transfer data to vault"])

    note = page.locator(f"#notes .note[data-id=job-{job.pk}]")
    expect(note).to_have_attribute("data-state", "running")
    expect(note).to_contain_text("Backing up 'vm01'…")
    expect(note.locator(".note-link")).to_have_attribute("href", f"/jobs/{job.pk}/")
    row = jobs_tab.locator(f"#job-row-{job.pk}")
    expect(row).to_contain_text("In Progress")
    expect(row).to_contain_text("Backup")
    jobs_tab.wait_for_function(
        f"Number((document.querySelector('#job-row-{job.pk} .job-progress') || {{}}).textContent?.replace('%','')) > 0")
    page.screenshot(path=screenshot_dir / "jobs-strip-running.png")
    # OK dismisses the running note; progress does not bring it back, the end does.
    note.locator(".note-ok").click()
    page.wait_for_timeout(800)
    expect(note).to_have_count(0)

    # The Details dialog follows the job while it is open.
    row.locator("a.job-open").click()
    dialog = jobs_tab.locator("#job-details-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("tr[data-subtask='1']")).to_contain_text("Take Snapshot")
    jobs_tab.screenshot(path=screenshot_dir / "jobs-details-running.png")
    expect(dialog.locator("tr[data-subtask='2']")).to_contain_text("Transfer data to vault", timeout=20_000)
    expect(dialog.locator("#job-details-status")).to_have_text("Completed", timeout=20_000)
    expect(dialog.locator(".job-properties")).to_contain_text("42 MB")
    jobs_tab.screenshot(path=screenshot_dir / "jobs-details-completed.png")
    dialog.locator(".wizard-close").click()

    expect(row).to_contain_text("Completed")
    expect(note).to_have_attribute("data-state", "succeeded")
    expect(note).to_contain_text("Backup of 'vm01' completed.")
    page.screenshot(path=screenshot_dir / "jobs-strip-completed.png")
    jobs_tab.screenshot(path=screenshot_dir / "jobs-page-completed.png")
    for tab in (page, jobs_tab):
        assert tab.evaluate("window.__sameDocument") is True

    # View Job opens the same Details dialog, on the page the user is on; the address stays the job's own page.
    note.locator(".note-link").click()
    expect(page.locator("#job-details-dialog #job-details-status")).to_have_text("Completed")
    expect(page).to_have_url(f"{portal_server}/vaults/")
    page.screenshot(path=screenshot_dir / "jobs-view-job.png")
    page.goto(f"{portal_server}/jobs/{job.pk}/")
    expect(page.locator("#job-details-status")).to_have_text("Completed")


def test_cancel_from_the_command_bar_after_confirming_in_the_strip(
    page, sign_in, portal_server, celery_worker_process, member, vault, start_work, screenshot_dir
):
    sign_in(page, member)
    job = start_work(item="vm02", steps=300, delay=0.1)
    page.goto(f"{portal_server}/jobs/")
    page.wait_for_selector("body[data-live='1']")
    row = page.locator(f"#job-row-{job.pk}")
    expect(row).to_contain_text("In Progress")
    cancel = page.locator("#cmd-job-cancel")
    expect(cancel).to_be_disabled()
    row.locator("td").nth(1).click()
    expect(cancel).to_be_enabled()
    cancel.click()
    confirm = page.locator("#notes .note[data-state=confirm]")
    expect(confirm).to_contain_text("Cancel the selected job?")
    confirm.locator(".note-yes").click()
    expect(row).to_contain_text("Cancelled", timeout=15_000)
    expect(page.locator(f"#notes .note[data-id=job-{job.pk}]")).to_contain_text("was cancelled")
    page.screenshot(path=screenshot_dir / "jobs-cancelled.png")


def test_a_page_loaded_while_a_job_runs_shows_it_in_the_strip_at_once(
    page, sign_in, portal_server, member, vault, make_job
):
    job = make_job(item_name="vm03", operation="register")
    job.claim("w")
    sign_in(page, member)
    expect(page.locator(f"#notes .note[data-id=job-{job.pk}]")).to_contain_text("Registering 'vm03'…")


def test_after_a_reconnect_the_page_renders_what_it_missed_from_the_database(
    page, sign_in, portal_server, member, vault, make_job
):
    job = make_job(item_name="vm04")
    job.claim("w")
    sign_in(page, member)
    page.goto(f"{portal_server}/jobs/")
    page.wait_for_selector("body[data-live='1']")
    expect(page.locator(f"#job-row-{job.pk}")).to_contain_text("In Progress")
    # The job ends while the page is not listening: no event is published.
    job.complete()
    page.evaluate("document.body.dispatchEvent(new CustomEvent('portal:resync'))")
    expect(page.locator(f"#job-row-{job.pk}")).to_contain_text("Completed")
    expect(page.locator(f"#notes .note[data-id=job-{job.pk}]")).to_have_attribute("data-state", "succeeded")


def test_the_details_of_a_parked_job_say_what_it_waits_for(page, sign_in, portal_server, member, make_job,
                                                           screenshot_dir):
    """A job waiting for the fabric, parked (its worker slot free), as its Details dialog shows it."""
    from datetime import timedelta

    from django.utils import timezone

    job = make_job(item_name="vm03", enqueued=timezone.now())  # a row only: no worker may take it
    job.claim("worker@lab")
    job.park(timezone.now() + timedelta(seconds=8))
    sign_in(page, member)
    page.goto(f"{portal_server}/jobs/")
    page.locator(f"#job-row-{job.pk} a.job-open").click()
    dialog = page.locator("#job-details-dialog")
    expect(dialog.locator("#job-details-status")).to_have_text("In Progress")
    expect(dialog.locator("#job-details-waiting")).to_contain_text("holds no worker meanwhile")
    page.screenshot(path=screenshot_dir / "jobs-details-parked.png")
