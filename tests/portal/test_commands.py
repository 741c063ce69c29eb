from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from portal import processes


def test_procfile_is_the_projects_when_redis_answers(settings, capsys, monkeypatch):
    monkeypatch.setattr("portal.management.commands.procfile.redis_answers", lambda url: True)
    call_command("procfile")
    out = capsys.readouterr().out
    assert out == (settings.BASE_DIR / "Procfile").read_text()
    assert "web:" in out and "worker:" in out and "beat:" in out and "fabric:" in out


def test_procfile_adds_a_private_redis_under_var_when_none_answers(settings, capsys, tmp_path):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.VAR_DIR = tmp_path
    call_command("procfile")
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("redis: ") and "--port 1" in first and str(tmp_path / "redis") in first


def test_procfile_names_the_package_when_redis_server_is_missing(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(processes.shutil, "which", lambda name: None)
    with pytest.raises(CommandError, match="sudo apt-get install redis-server"):
        call_command("procfile")


def test_a_remote_redis_that_does_not_answer_is_not_replaced(settings):
    settings.REDIS_URL = "redis://redis.example:6379/0"
    with pytest.raises(CommandError, match="not on this machine"):
        call_command("procfile")
