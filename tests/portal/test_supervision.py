"""Under `make run` every process is supervised: one that dies is restarted alone, and Ctrl-C stops them all.

The test writes the configuration `make run` writes, runs supervisord on private ports and a private VAR_DIR,
kills processes with SIGKILL as a crash would, and ends supervisord as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import ROOT, free_port, port_open, process_env, wait_for

pytestmark = [pytest.mark.integration]

SUPERVISORD = Path(sys.executable).parent / "supervisord"
RESTART_WITHIN = 10.0
EVENT = re.compile(r"(spawned): '(\w+)' with pid (\d+)|(success): (\w+) entered RUNNING|(exited): (\w+) ")


class Supervised:
    """What supervisord's log says of its processes: every pid spawned, and which are running now."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def read(self) -> tuple[dict[str, int], dict[str, bool], set[int]]:
        current: dict[str, int] = {}
        running: dict[str, bool] = {}
        spawned: set[int] = set()
        text = self.log.read_text() if self.log.exists() else ""
        for match in EVENT.finditer(text):
            if match[1]:
                current[match[2]] = int(match[3])
                running[match[2]] = False
                spawned.add(int(match[3]))
            elif match[4]:
                running[match[5]] = True
            else:
                running[match[7]] = False
        return current, running, spawned

    def pid(self, name: str) -> int | None:
        current, running, _ = self.read()
        return current[name] if running.get(name) and alive(current[name]) else None

    def spawned(self) -> set[int]:
        return self.read()[2]


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def members_of(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of ``groups`` (supervisord gives each program its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, pgid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgid) in groups and state != "Z":
            found.append(int(entry.name))
    return found


def web_answers(port: int, timeout: float = 5.0) -> bool:
    """Whether the sign-in page comes back; a slow answer on a busy machine still counts."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=timeout) as response:  # noqa: S310 - local
            return response.status == 200
    except OSError:
        return False


class WebWatch:
    """Asks the web process for the sign-in page every 0.2 s, in a thread, and keeps the times it did not answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failures: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(0.2):
            if not web_answers(self.port):
                self.failures.append(round(time.monotonic() - started, 1))

    def __enter__(self) -> WebWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def kill_and_time_restart(supervised: Supervised, name: str) -> float:
    """SIGKILL ``name``'s main process; the seconds until supervisord has it running again under a new pid."""
    old = supervised.pid(name)
    assert old is not None, f"{name} is not running"
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: supervised.pid(name) not in (None, old), what=f"{name} restarted", timeout=RESTART_WITHIN)
    return time.monotonic() - killed


@pytest.fixture
def private_redis_or_suite_redis(request) -> tuple[str, bool]:
    """A Redis URL nothing answers at, so the configuration starts a private redis-server; else the suite's Redis."""
    if shutil.which("redis-server"):
        return f"redis://127.0.0.1:{free_port()}/0", True
    return request.getfixturevalue("redis_url"), False


def test_a_process_that_dies_is_restarted_alone_and_ctrl_c_stops_them_all(
    settings, tmp_path, django_db_setup, private_redis_or_suite_redis,
):
    redis_url, private_redis = private_redis_or_suite_redis
    web_port, fabric_port = free_port(), free_port()
    settings.VAR_DIR, settings.PORT, settings.FABRIC_PORT, settings.REDIS_URL = tmp_path, web_port, fabric_port, redis_url
    config = io.StringIO()
    call_command("supervisord_conf", stdout=config, stderr=io.StringIO())
    (tmp_path / "supervisord.conf").write_text(config.getvalue())
    names = ["web", "worker", "control", "beat", "fabric"] + (["redis"] if private_redis else [])
    assert all(f"[program:{name}]" in config.getvalue() for name in names)

    env = process_env(redis_url, PORT=str(web_port), FABRIC_PORT=str(fabric_port),
                      CELERY_QUEUE=f"supervision-{os.getpid()}", EVENTS_CHANNEL_PREFIX=f"supervision-{os.getpid()}:")
    env["VAR_DIR"] = str(tmp_path)
    terminal = tmp_path / "terminal.log"
    supervised = Supervised(tmp_path / "logs" / "supervisord.log")
    with terminal.open("wb") as output:
        supervisord = subprocess.Popen([str(SUPERVISORD), "--configuration", str(tmp_path / "supervisord.conf")],
                                       cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    took: dict[str, float] = {}
    try:
        wait_for(lambda: web_answers(web_port) and port_open(fabric_port), what="web and fabric under supervisord",
                 timeout=60, process=supervisord)
        wait_for(lambda: all(supervised.pid(name) for name in names), what="every process running", timeout=20,
                 process=supervisord)

        with WebWatch(web_port) as watch:
            for name in names:
                if name != "web":
                    took[name] = kill_and_time_restart(supervised, name)
            wait_for(lambda: port_open(fabric_port), what="fabric answering again", timeout=RESTART_WITHIN)
        assert watch.failures == [], f"web did not answer at {watch.failures} s while the others restarted"

        before = time.monotonic()
        took["web"] = kill_and_time_restart(supervised, "web")
        wait_for(lambda: web_answers(web_port), what="web answering again", timeout=RESTART_WITHIN - took["web"])
        took["web answering"] = time.monotonic() - before
        print("restarted within (s):", {name: round(seconds, 1) for name, seconds in took.items()})

        log = supervised.log.read_text()
        for name in names:
            assert f"exited: {name} (terminated by SIGKILL; not expected)" in log
        assert "Uvicorn running on" in terminal.read_text(), "the processes' output reaches the terminal"

        groups = supervised.spawned()
        os.killpg(supervisord.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process group
        supervisord.wait(30)
        assert "received SIGINT" in supervised.log.read_text()
        wait_for(lambda: not members_of(groups), what="every supervised process gone", timeout=5)
    finally:
        if supervisord.poll() is None:
            supervisord.terminate()
            try:
                supervisord.wait(20)
            except subprocess.TimeoutExpired:
                supervisord.kill()
                supervisord.wait(5)
        for pgid in supervised.spawned():
            if members_of({pgid}):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
