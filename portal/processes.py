"""The portal's long-running processes, and how they are supervised.

One list, ``PROCESSES``, says how each process starts. ``make run`` runs it
under supervisord (``supervisord_config``); a server runs it under systemd
(``systemd_units``). Both restart a process that dies and leave the others
serving. A private Redis joins the list under ``make run`` when nothing
answers at ``REDIS_URL``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlparse

import redis

REDIS_PACKAGE = "redis-server"
UNIT_PREFIX = "recovery-portal"


@dataclass(frozen=True)
class Process:
    """One process: its name, what it is, and its command line.

    A bare program name (``uvicorn``) is an executable of the virtualenv; an
    argument may name a setting from the environment as ``${PORT}``.
    """

    name: str
    description: str
    argv: tuple[str, ...]

    def command(self, bin_dir: Path) -> list[str]:
        program, *arguments = self.argv
        if not os.path.isabs(program):
            program = str(bin_dir / program)
        return [program, *arguments]


PROCESSES: tuple[Process, ...] = (
    Process("web", "web (uvicorn, ASGI)",
            # --lifespan off: Django has no startup or shutdown hooks, and without it uvicorn says at every start
            # that the "lifespan" protocol "appears unsupported".
            ("uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", "${PORT}", "--no-access-log",
             "--lifespan", "off")),
    # The jobs: the queues WORKER_QUEUES names (the data queue by default), as WORKER_NAME@<host>; N of them on N hosts.
    Process("worker", "Celery worker for the jobs", ("python", "manage.py", "job_worker")),
    # The reconciler and the scheduler's tick, on a queue of their own: never behind a long transfer.
    Process("control", "Celery worker for the reconciler and the scheduler", ("python", "manage.py", "control_worker")),
    # The schedule file is CELERY_BEAT_SCHEDULE_FILENAME, under VAR_DIR.
    Process("beat", "Celery beat", ("celery", "-A", "portal", "beat", "--loglevel", "INFO")),
    Process("fabric", "lab fabric", ("python", "manage.py", "fabric", "serve", "--port", "${FABRIC_PORT}")),
)


# --- Redis ---------------------------------------------------------------

def redis_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def private_redis_command(url: str, var_dir: Path) -> list[str]:
    """The command line of a private redis-server for ``url``, kept under ``var_dir``.

    Raises RuntimeError with what to install when no redis-server exists, and
    when the URL names a host that is not this machine.
    """
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise RuntimeError(f"Nothing answers at REDIS_URL={url}, and it is not on this machine; start that Redis first.")
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            f"Nothing answers at REDIS_URL={url} and redis-server is not installed. "
            f"Install it with: sudo apt-get install {REDIS_PACKAGE}"
        )
    data = var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        binary, "--bind", host, "--port", str(parsed.port or 6379), "--dir", str(data),
        "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]


def private_redis(url: str, var_dir: Path) -> Process:
    return Process("redis", "private Redis", tuple(private_redis_command(url, var_dir)))


# --- supervisord (make run) -----------------------------------------------

def supervisord_config(processes: Sequence[Process], *, bin_dir: Path, directory: Path, var_dir: Path,
                       settings: object) -> str:
    """A supervisord configuration that runs ``processes`` in the foreground until SIGINT or SIGTERM.

    A ``${NAME}`` argument takes the value of ``settings.NAME``. Every process
    is restarted whenever it exits; its output goes to supervisord's standard
    output, and supervisord's own log (starts, exits and why, restarts) goes
    there too and to ``var_dir/logs/supervisord.log``. Stopping sends SIGTERM
    to each process's whole group, then SIGKILL to what is left after 10 s.
    """
    logs = var_dir / "logs"
    lines = [
        "; Written by `manage.py supervisord_conf` for `make run`.",
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_ini(logs / 'supervisord.log')}",
        "logfile_maxbytes=10MB",
        "logfile_backups=2",
        f"pidfile={_ini(var_dir / 'supervisord.pid')}",
        f"childlogdir={_ini(logs)}",
    ]
    # Started in this order and stopped in the reverse one: a private Redis first up, last down.
    for priority, process in enumerate(processes, start=1):
        command = [_expand(argument, settings) for argument in process.command(bin_dir)]
        lines += [
            "",
            f"[program:{process.name}]",
            f"command={_ini(shlex.join(command))}",
            f"directory={_ini(directory)}",
            f"priority={priority * 10}",
            'environment=PYTHONUNBUFFERED="1"',
            "autostart=true",
            "autorestart=true",
            # A process that keeps dying within a second of its start is given up after 5 tries, and logged FATAL.
            "startsecs=1",
            "startretries=5",
            "stopsignal=TERM",
            "stopwaitsecs=10",
            # The whole group: a Celery worker's pool processes go with it.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
    return "\n".join(lines) + "\n"


def _expand(argument: str, settings: object) -> str:
    template = Template(argument)
    return template.substitute({name: str(getattr(settings, name)) for name in template.get_identifiers()})


def _ini(value: object) -> str:
    """A value for supervisord's configuration, where ``%`` starts an expansion."""
    return str(value).replace("%", "%%")


# --- systemd (servers) ---------------------------------------------------

@dataclass(frozen=True)
class Install:
    """Where a server keeps the portal: its checkout, virtualenv, settings file and account."""

    home: Path = Path("/opt/recovery-portal")
    venv: Path | None = None
    env_file: Path = Path("/etc/recovery-portal/portal.env")
    user: str = "recovery-portal"

    @property
    def bin_dir(self) -> Path:
        return (self.venv or self.home / ".venv") / "bin"


def unit_name(process: Process) -> str:
    return f"{UNIT_PREFIX}-{process.name}.service"


def systemd_units(processes: Sequence[Process], install: Install) -> dict[str, str]:
    """The unit files, by file name: one service per process, and a target that groups them.

    Each service restarts on failure (a crash, a signal such as SIGKILL, a
    non-zero exit) and stops with its target. ``${NAME}`` arguments are left
    for systemd to expand from the EnvironmentFile.
    """
    target = f"{UNIT_PREFIX}.target"
    units = {
        target: "\n".join([
            "# Written by `manage.py systemd_units`.",
            "[Unit]",
            f"Description=Recovery Services portal ({', '.join(process.name for process in processes)})",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]),
    }
    for process in processes:
        units[unit_name(process)] = "\n".join([
            "# Written by `manage.py systemd_units`.",
            "[Unit]",
            f"Description=Recovery Services portal: {process.description}",
            f"PartOf={target}",
            "After=network-online.target redis-server.service postgresql.service",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=exec",
            f"User={install.user}",
            f"Group={install.user}",
            f"WorkingDirectory={install.home}",
            "Environment=PYTHONUNBUFFERED=1",
            f"EnvironmentFile={install.env_file}",
            f"ExecStart={_systemd_join(process.command(install.bin_dir))}",
            "Restart=on-failure",
            "RestartSec=2",
            # SIGTERM to the main process (a Celery worker finishes its tasks), SIGKILL to what is left at the timeout.
            "KillMode=mixed",
            "UMask=0077",
            "NoNewPrivileges=true",
            "PrivateTmp=true",
            "ProtectSystem=full",
            "",
            "[Install]",
            f"WantedBy={target}",
            "",
        ])
    return units


_PLAIN = re.compile(r"[^\s\"'\\;]+")


def _systemd_join(command: Sequence[str]) -> str:
    """An ExecStart line: ``%`` escaped (systemd specifiers), ``${NAME}`` kept for systemd to expand."""
    words = []
    for argument in command:
        argument = argument.replace("%", "%%")
        if not _PLAIN.fullmatch(argument):
            argument = '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(argument)
    return " ".join(words)
