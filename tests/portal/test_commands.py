from __future__ import annotations

import io
import shlex
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from supervisor.options import ServerOptions

from portal import processes

PROCESS_NAMES = ["web", "worker", "control", "beat", "fabric"]


def supervisord_conf() -> str:
    out = io.StringIO()
    call_command("supervisord_conf", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def programs(config: str, tmp_path: Path) -> dict[str, object]:
    """The programs of a configuration as supervisord itself reads them, in start order."""
    path = tmp_path / "supervisord.conf"
    path.write_text(config)
    section = ServerOptions().read_config(str(path))
    found = [process for group in section.process_group_configs for process in group.process_configs]
    return {process.name: process for process in sorted(found, key=lambda process: process.priority)}


def test_supervisord_conf_runs_the_portals_processes_each_restarted_when_redis_answers(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("portal.management.commands.supervisord_conf.redis_answers", lambda url: True)
    settings.VAR_DIR, settings.PORT, settings.FABRIC_PORT = tmp_path, 18000, 18100
    found = programs(supervisord_conf(), tmp_path)
    assert list(found) == PROCESS_NAMES
    for process in found.values():
        assert process.autorestart is not False and process.autostart
        assert process.stopasgroup and process.killasgroup  # Ctrl-C leaves no child of a child behind
        assert process.stdout_logfile == "/dev/stdout" and process.redirect_stderr
        assert process.directory == str(settings.BASE_DIR)
    assert "--port 18000" in found["web"].command
    assert found["worker"].command.endswith("manage.py job_worker")
    assert "fabric serve --port 18100" in found["fabric"].command


def test_supervisord_conf_adds_a_private_redis_under_var_first_when_none_answers(settings, tmp_path):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.VAR_DIR = tmp_path
    found = programs(supervisord_conf(), tmp_path)
    assert list(found) == ["redis", *PROCESS_NAMES]  # started first, stopped last
    assert "--port 1 " in found["redis"].command and str(tmp_path / "redis") in found["redis"].command


def test_supervisord_conf_names_the_package_when_redis_server_is_missing(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(processes.shutil, "which", lambda name: None)
    with pytest.raises(CommandError, match="sudo apt-get install redis-server"):
        supervisord_conf()


def test_a_remote_redis_that_does_not_answer_is_not_replaced(settings):
    settings.REDIS_URL = "redis://redis.example:6379/0"
    with pytest.raises(CommandError, match="not on this machine"):
        supervisord_conf()


def units_written(directory: Path, *options: str) -> dict[str, str]:
    call_command("systemd_units", str(directory), *options, stdout=io.StringIO())
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def test_the_shipped_systemd_units_are_the_ones_the_command_writes(settings, tmp_path):
    shipped = settings.BASE_DIR / "deploy" / "systemd"
    assert units_written(tmp_path) == {
        path.name: path.read_text() for path in sorted(shipped.iterdir()) if path.suffix in {".service", ".target"}
    }


def test_each_systemd_service_restarts_on_failure_and_reads_the_settings_file(tmp_path):
    units = units_written(tmp_path, "--env-file", "/etc/portal.env")
    assert set(units) == {"recovery-portal.target", *(f"recovery-portal-{name}.service" for name in PROCESS_NAMES)}
    for name in PROCESS_NAMES:
        lines = units[f"recovery-portal-{name}.service"].splitlines()
        assert "Restart=on-failure" in lines and "EnvironmentFile=/etc/portal.env" in lines
        assert "PartOf=recovery-portal.target" in lines and "WantedBy=recovery-portal.target" in lines


def test_the_systemd_units_start_the_same_commands_as_make_run(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("portal.management.commands.supervisord_conf.redis_answers", lambda url: True)
    settings.VAR_DIR, settings.PORT, settings.FABRIC_PORT = tmp_path, 18000, 18100
    found = programs(supervisord_conf(), tmp_path)
    venv = Path(sys.executable).parent.parent
    units = units_written(tmp_path / "units", "--home", str(settings.BASE_DIR), "--venv", str(venv))
    for name, process in found.items():
        unit = units[f"recovery-portal-{name}.service"]
        exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
        # systemd's escapes and expansions, as systemd applies them
        exec_start = exec_start.removeprefix("ExecStart=").replace("%%", "%")
        exec_start = exec_start.replace("${PORT}", "18000").replace("${FABRIC_PORT}", "18100")
        assert shlex.split(exec_start) == shlex.split(process.command)
