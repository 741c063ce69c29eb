"""backup_now, restore and verify from the command line, with the real worker: --wait, and non-zero exits on failure."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .helpers import lab_vault, protect, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_backup_now_restore_and_verify_commands_wait_and_fail_clearly(lab_subscription, member, owner,
                                                                      celery_worker_process, capsys):
    vault = lab_vault(owner, lab_subscription, "North Europe", "cli")
    protect(member, vault, "northwind-eu", "files01", runner=wait_for)
    call_command("backup_now", "cli", "northwind-eu/files01", "--wait", "--timeout", "120")
    assert "Completed" in capsys.readouterr().out
    call_command("restore", "cli", "files01", "--name", "rscli", "--service", "northwind-eu",
                 "--storage-account", "labstorenortheu", "--wait", "--timeout", "120")
    assert "Completed" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already exists"):
        call_command("restore", "cli", "files01", "--name", "rscli", "--service", "northwind-eu",
                     "--storage-account", "labstorenortheu", "--wait")
    call_command("verify", "cli", "--wait", "--timeout", "120")
    out = capsys.readouterr().out
    assert "Recovery points checked: 1" in out and "Completed" in out
    with pytest.raises(CommandError, match="No protected item"):
        call_command("backup_now", "cli", "nothere", "--wait")
