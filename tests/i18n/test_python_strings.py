"""The Python side in Korean: refusals a click meets, job errors a worker stores, job labels, and the app catalogues.

English stays the source text: where English is active, the sentences read as before, word for word.
"""

from __future__ import annotations

import gettext
import json
import re
import shutil
from datetime import time
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from jobs import live
from jobs.models import Job, LogAction, Operation, Status
from portal.models import UserPreference
from tests.fixtures.vaults import run_job, wait_for_job
from vaults.models import VirtualMachine
from vaults.operations.discovery import Discovery
from vaults.operations.registration import Register
from vaults.policy import rules
from vaults.services.vaults import create_vault

APP_CATALOGUES = [Path(settings.BASE_DIR) / app / "locale/ko/LC_MESSAGES/django.po" for app in ("alerts", "jobs", "vaults")]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture(autouse=True)
def language_restored():
    """A request through the test client activates its language in this thread and leaves it active: restore it,
    so later tests in the process read English."""
    with translation.override(settings.LANGUAGE_CODE):
        yield


def notice(response) -> str:
    return json.loads(response["HX-Trigger"])["portal:notice"]["text"]


def registered_web01(member, vault) -> VirtualMachine:
    """DISCOVER, then REGISTER web01, as the member's clicks run them (the jobs run here, as a worker would)."""
    assert run_job(Discovery.start(member, vault)).status == Status.COMPLETED
    vm = VirtualMachine.objects.get(subscription=vault.subscription, cloud_service="contoso-web", name="web01")
    [outcome] = Register.start_many(member, vault, [vm.pk])
    job = run_job(Job.objects.get(item_key=outcome.item.item_key, operation=Operation.REGISTER))
    assert job.status == Status.COMPLETED, job.error_message
    return vm


@pytest.mark.django_db
def test_registering_a_registered_vm_again_is_refused_in_the_browsers_language(client, member, vault):
    vm = registered_web01(member, vault)
    client.force_login(member)
    url = reverse("vaults:register", args=[vault.pk])

    korean = client.post(url, {"vm": vm.pk}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="ko")
    english = client.post(url, {"vm": vm.pk}, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")

    assert notice(korean) == "'web01 (contoso-web)'은(는) 이미 자격 증명 모음 'contoso-east'에 등록되어 있습니다."
    assert notice(english) == "'web01 (contoso-web)' is already registered with vault 'contoso-east'."
    assert Job.objects.filter(operation=Operation.REGISTER).count() == 1


@pytest.mark.django_db
def test_a_role_refusal_follows_the_saved_language_over_the_browsers(client, reader, vault):
    UserPreference.objects.create(user=reader, language="ko")
    client.force_login(reader)
    response = client.post(reverse("vaults:discover", args=[vault.pk]), HTTP_HX_REQUEST="true",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert notice(response) == "VM 검색 작업은 백업 운영자와 관리자만 할 수 있습니다."
    assert not Job.objects.filter(operation=Operation.DISCOVERY).exists()


@pytest.fixture
def lab_vault(lab_subscription, owner, celery_worker_process):
    vault = create_vault(owner, lab_subscription, "i18n-east", "East US")
    yield vault
    shutil.rmtree(vault.store_path, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_job_failing_in_the_worker_stores_its_error_in_the_requesters_language(lab_vault, member, owner):
    """sql01 has 17 data disks: its Register job fails in the worker. The member reads Korean; the owner, with no
    saved language, reads the site's language (English)."""
    UserPreference.objects.create(user=member, language="ko")
    assert wait_for_job(Discovery.start(owner, lab_vault)).status == Status.COMPLETED
    sql01 = VirtualMachine.objects.get(cloud_service="contoso-sql", name="sql01")
    db01 = VirtualMachine.objects.get(cloud_service="contoso-premium", name="db01")

    [korean] = Register.start_many(member, lab_vault, [sql01.pk])
    [english] = Register.start_many(owner, lab_vault, [db01.pk])
    korean_job = wait_for_job(Job.objects.get(item_key=korean.item.item_key, operation=Operation.REGISTER))
    english_job = wait_for_job(Job.objects.get(item_key=english.item.item_key, operation=Operation.REGISTER))

    assert (korean_job.status, korean_job.error_code) == (Status.FAILED, "UnsupportedDataDiskCount")
    assert korean_job.error_message == ("가상 컴퓨터 'sql01 (contoso-sql)'에 데이터 디스크가 17개 있습니다. "
                                        "백업은 최대 16개까지 지원합니다.")
    assert korean_job.recommendations == ["데이터 디스크가 16개 이하가 되도록 분리한 다음 VM을 다시 등록합니다."]
    assert (english_job.status, english_job.error_code) == (Status.FAILED, "PremiumStorageNotSupported")
    assert english_job.error_message == ("Virtual machine 'db01 (contoso-premium)' has disks on premium storage, "
                                         "which backup does not support.")
    assert english_job.recommendations == ["Move the VM's disks to a standard storage account, then register it again."]
    with translation.override("ko"):
        assert live.sentence(korean_job) == (
            "'sql01 (contoso-sql)' 등록 작업이 실패했습니다: " + korean_job.error_message)


def test_job_operation_status_and_log_labels_in_korean():
    with translation.override("ko"):
        assert [str(Operation.REGISTER.label), str(Operation.BACKUP.label), str(Operation.DELETE_BACKUP_DATA.label)] \
            == ["등록", "백업", "백업 데이터 삭제"]
        assert [str(Status.IN_PROGRESS.label), str(Status.COMPLETED.label), str(Status.FAILED.label)] \
            == ["진행 중", "완료됨", "실패"]
        assert str(LogAction.SOFT_DELETE.label) == "일시 삭제"
        job = Job(operation=Operation.BACKUP, status=Status.IN_PROGRESS, item_name="vm01")
        assert (job.get_operation_display(), job.get_status_display()) == ("백업", "진행 중")
        assert live.sentence(job) == "'vm01' 백업 중…"
    with translation.override("en"):
        assert str(Status.COMPLETED_WITH_WARNINGS.label) == "Completed With Warnings"
        assert live.sentence(job) == "Backing up 'vm01'…"
        job.status = Status.COMPLETED
        assert live.sentence(job) == "Backup of 'vm01' completed."


def test_policy_rule_messages_in_korean_and_english():
    policy = rules.Policy(name="", schedule=rules.Schedule(frequency=rules.Frequency.DAILY, times=(time(22, 0),)),
                          retention=(rules.DailyRetention(count=30),))
    with translation.override("ko"):
        assert [e.message for e in rules.validate(policy)] == ["정책 이름은 3~150자여야 합니다. 현재 0자입니다."]
    with translation.override("en"):
        assert [e.message for e in rules.validate(policy)] == [
            "The policy name must be 3 to 150 characters long; it has 0."]


@pytest.mark.parametrize("path", APP_CATALOGUES, ids=lambda p: p.parts[-5])
def test_the_app_catalogue_is_complete_and_compiled(path):
    catalogue = polib.pofile(str(path))
    live_entries = [entry for entry in catalogue if not entry.obsolete]
    assert live_entries
    assert [e.msgid for e in live_entries if "fuzzy" in e.flags] == []
    assert [e.msgid for e in live_entries if not (e.msgstr or all(e.msgstr_plural.values()))] == []
    for entry in live_entries:
        korean = entry.msgstr or entry.msgstr_plural[0]
        assert sorted(set(PLACEHOLDER.findall(korean))) == sorted(set(PLACEHOLDER.findall(entry.msgid))), entry.msgid
    # The .mo in the tree is the .po compiled: every translation reads back from it.
    with path.with_suffix(".mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    for entry in live_entries:
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            assert mo.ngettext(key, entry.msgid_plural, 1) == entry.msgstr_plural[0], entry.msgid
        else:
            assert mo.gettext(key) == entry.msgstr, entry.msgid


@pytest.mark.django_db
def test_a_job_the_reconciler_fails_is_worded_for_its_requester(make_job, member):
    """The reconciler (beat, no request) fails a job whose worker died: the member who asked for it reads Korean."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs import services

    UserPreference.objects.create(user=member, language="ko")
    job = make_job()
    job.claim("dead-worker")
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(minutes=5))
    with translation.override("en"):
        assert services.reconcile(stale_after=timedelta(seconds=60))["failed"] == 1
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Status.FAILED, "WorkerLost")
    assert job.error_message.startswith("이 작업을 실행하던 작업자가 예기치 않게 중지되어")
    assert job.recommendations == ["작업을 다시 실행합니다."]
