"""--json on backup_now, restore, verify and undelete, with the real worker: one JSON object on standard output,
nothing else, and the exit codes of the text output."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import ROOT, process_env
from tests.fixtures.store import damage_chunk
from vaults.services.storage import open_store

from .helpers import lab_vault, protect, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def manage(redis_url: str, *args: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` in a process of its own, as an operator types it, on the test database."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=process_env(redis_url),
                          capture_output=True, text=True, timeout=300)


def json_of(*args: str) -> tuple[dict, CommandError | None]:
    """The one JSON document ``call_command(*args)`` printed, and the CommandError it raised, if any."""
    out, refused = io.StringIO(), None
    try:
        call_command(*args, stdout=out)
    except CommandError as error:
        refused = error
    [line] = out.getvalue().splitlines()
    return json.loads(line), refused


def test_backup_now_wait_json_prints_the_finished_job_alone_and_a_second_request_a_problem(
        lab_subscription, member, owner, celery_worker_process, redis_url):
    vault = lab_vault(owner, lab_subscription, "North Europe", "clijson")
    protect(member, vault, "northwind-dev", "dev02", runner=wait_for)

    done = manage(redis_url, "backup_now", "clijson", "northwind-dev/dev02", "--wait", "--timeout", "120", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)  # the whole of standard output is one JSON document
    assert (job["operation"], job["status"], job["status_label"]) == ("backup", "completed", "Completed")
    assert (job["vault"], job["item"], job["item_type"], job["error"]) == ("clijson", "dev02 (northwind-dev)", "vm", None)
    assert job["properties"]["Backup kind"] == "Full" and job["properties"]["New data stored"]
    assert job["progress"] == 100 and job["duration_seconds"] > 0 and job["finished"]
    assert vault.jobs.get(pk=job["job"]).status == "completed"

    # BACKUP NOW, then BACKUP NOW again while the first runs: the job, then the product's refusal as a problem.
    first, _ = json_of("backup_now", "clijson", "dev02", "--json")
    assert first["status"] in {"not_started", "in_progress"} and first["item"] == "dev02 (northwind-dev)"
    second, refused = json_of("backup_now", "clijson", "dev02", "--json")
    assert refused is not None  # a non-zero exit
    assert second == {"code": "OperationInProgress", "detail": "Another operation is in progress on this item"}
    assert wait_for(vault.jobs.get(pk=first["job"]), 120).status == "completed"

    refused_run = manage(redis_url, "backup_now", "nowhere", "dev02", "--json")
    assert refused_run.returncode == 1
    assert json.loads(refused_run.stdout) == {"code": "NotFound", "detail": "No vault named 'nowhere'."}


def test_restore_and_verify_json_report_refusals_and_failed_jobs_with_their_error(
        lab_subscription, member, owner, celery_worker_process):
    vault = lab_vault(owner, lab_subscription, "North Europe", "clijson2")
    item = protect(member, vault, "northwind-eu", "web01", runner=wait_for)
    backup, _ = json_of("backup_now", "clijson2", "web01", "--wait", "--timeout", "120", "--json")
    assert backup["status"] == "completed"

    # A name already taken in the cloud service: refused before any job, field and all.
    taken, refused = json_of("restore", "clijson2", "web01", "--name", "files01", "--service", "northwind-eu",
                             "--storage-account", "labstorenortheu", "--json")
    assert refused is not None
    assert taken["code"] == "InvalidRequest" and "already exists" in taken["detail"] and taken["field"]

    restored, refused = json_of("restore", "clijson2", "web01", "--name", "rsjson", "--service", "northwind-eu",
                                "--storage-account", "labstorenortheu", "--wait", "--timeout", "120", "--json")
    assert refused is None and (restored["operation"], restored["status"]) == ("restore", "completed")

    verified, refused = json_of("verify", "clijson2", "--wait", "--timeout", "120", "--json")
    assert refused is None and verified["properties"]["Recovery points checked"] == 1

    # A damaged chunk: the Verify job fails, and the JSON carries its code, sentence and what to do.
    store = open_store(vault)
    [point] = item.recovery_points.all()
    damage_chunk(store, next(c for d in store.load_point(point.store_point_id).disks for c in d.chunks if c))
    failed, refused = json_of("verify", "clijson2", "--wait", "--timeout", "120", "--json")
    assert refused is not None and str(refused).startswith(f"job {failed['job']} Failed")
    assert failed["status"] == "failed" and failed["error"]["code"] == "VaultDataCorrupted"
    assert point.label in failed["error"]["message"] and failed["error"]["recommendations"]
    assert failed["properties"]["Affected recovery points"] == [point.label]

    # UNDELETE of an item that is not soft-deleted: the service's refusal.
    undelete, refused = json_of("undelete", "clijson2", "web01", "--json")
    assert refused is not None and undelete["code"] == "InvalidState" and undelete["detail"]
