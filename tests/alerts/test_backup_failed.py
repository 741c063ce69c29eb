"""A backup that really fails (the VM agent stops answering) is an alert within the job's end: an email arrives over
SMTP, and once the next backup succeeds the alert is resolved and a "resolved" email follows."""

from __future__ import annotations

import pytest

from alerts.models import Alert, Condition, Message
from jobs.models import Status
from tests.fixtures.vaults import protect_vm, run_job
from vaults.models import Vault
from vaults.operations.backup import Backup
from vaults.services.vaults import set_replication

from .helpers import email_channel

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_failed_backup_emails_the_alert_then_the_resolved_message(vault, owner, member, smtp_server, committed,
                                                                   lab_faults, settings):
    set_replication(owner, vault, Vault.Replication.LRS)  # no Replicate job after the backup that succeeds
    email_channel(owner, vault, "oncall@contoso.test", "backup-admins@contoso.test")
    item = protect_vm(member, vault, "contoso-web", "web01")
    settings.BACKUP_SNAPSHOT_TIMEOUT_SECONDS = 2
    lab_faults(agent_unresponsive=["contoso-web/web01"])

    job = Backup.start(member, item)
    with committed():  # the job's end is committed: the job_ended hook evaluates the vault, the email is sent
        failed = run_job(job)
    assert failed.status == Status.FAILED and failed.error_code == "UserErrorVmAgentSnapshotTimedOut"

    [alert] = Alert.objects.filter(vault=vault, condition=Condition.BACKUP_FAILED)
    assert (alert.status, alert.subject, alert.subject_key) == ("active", "web01 (contoso-web)", f"item:{item.pk}")
    [mail] = smtp_server.wait(1)
    assert mail["to"] == ["oncall@contoso.test", "backup-admins@contoso.test"]
    assert mail["from"] == "alerts@portal.test"
    assert mail["subject"] == "[Recovery Services] Critical: Backup failed - web01 (contoso-web) in vault contoso-east"
    assert failed.error_message in mail["body"]
    assert "Subject:   web01 (contoso-web)" in mail["body"]
    assert f"/vaults/{vault.pk}/alerts/" in mail["body"]

    lab_faults(agent_unresponsive=[])
    job = Backup.start(member, item)
    with committed():
        healed = run_job(job)
    assert healed.status == Status.COMPLETED, healed.error_message

    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved is not None
    resolved = smtp_server.wait(2)[1]
    assert resolved["subject"] == "[Recovery Services] Resolved: Backup failed - web01 (contoso-web) in vault contoso-east"
    assert resolved["body"].startswith("Resolved at ")
    assert [m.kind for m in Message.objects.filter(alert=alert).order_by("created")] == ["raised", "resolved"]
    assert all(m.state == "delivered" for m in Message.objects.filter(alert=alert))


def test_a_backup_whose_worker_died_is_an_alert_as_soon_as_the_reconciler_fails_it(vault, owner, member, smtp_server,
                                                                                  committed):
    from datetime import timedelta

    from jobs.models import Job
    from jobs.services import reconcile

    set_replication(owner, vault, Vault.Replication.LRS)
    email_channel(owner, vault, "oncall@contoso.test")
    item = protect_vm(member, vault, "scale-0000", "vm06")
    job = Backup.start(member, item)
    assert job.claim("a-worker-that-dies")  # taken by a worker that stops heartbeating

    with committed():
        counts = reconcile(stale_after=timedelta(0))
    assert counts["failed"] == 1 and Job.objects.get(pk=job.pk).status == Status.FAILED
    [alert] = Alert.objects.filter(vault=vault, condition=Condition.BACKUP_FAILED)
    assert alert.is_active and alert.subject == "vm06 (scale-0000)"
    [mail] = smtp_server.wait(1)
    assert mail["subject"] == "[Recovery Services] Critical: Backup failed - vm06 (scale-0000) in vault contoso-east"


def test_an_unreachable_mail_server_is_logged_with_the_reason(vault, owner, evaluate, settings):
    from alerts.models import DeliveryAttempt, Rule
    from alerts.services import update_rule
    from tests.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.ALERTS_ATTEMPTS = 3
    channel = email_channel(owner, vault, "oncall@contoso.test")
    evaluate()
    update_rule(owner, Rule.objects.get(vault=vault, condition=Condition.STORE_NEARLY_FULL), enabled=True, threshold=1)
    evaluate()
    attempts = DeliveryAttempt.objects.filter(message__channel=channel).order_by("attempt")
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert attempts[0].error == (f"Could not reach the mail server at 127.0.0.1:{settings.EMAIL_PORT}: "
                                 "Connection refused.")
    assert Message.objects.get(channel=channel).state == "failed"
