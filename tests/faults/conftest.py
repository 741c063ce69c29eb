"""Faults on real processes: a lab fabric and Celery workers of this module's own, the suite's Redis.

Jobs of these tests go to a queue of their own, so only the workers started here run them (the suite's shared
worker, if it runs, never takes one), with the settings the case needs (a short snapshot timeout, say).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from celery import Celery, current_app

from tests.conftest import process_env, start_process, wait_for
from tests.fixtures.fabric import LabFabric, start_lab_fabric, stop_lab_fabric

QUEUE = f"faults-{os.getpid()}"


@pytest.fixture(scope="module")
def fault_fabric(tmp_path_factory) -> Iterator[LabFabric]:
    """A lab of the seeded VMs plus scale-0000/vm00...vm09 (East US, small disks), answering without delays."""
    fabric = start_lab_fabric(tmp_path_factory.mktemp("fault-lab"), vms=24, log_name="fault-fabric.log",
                              extra_args=("--op-delay", "0", "--agent-delay", "0"))
    try:
        yield fabric
    finally:
        fabric.clear_faults()
        stop_lab_fabric(fabric)


@pytest.fixture
def to_fault_workers(monkeypatch) -> None:
    """Jobs this test starts go to the queue the fault workers consume."""
    def enqueue(job_id: int, task_name: str, *, countdown: float | None = None) -> bool:
        current_app.send_task(task_name, args=[job_id], ignore_result=True, queue=QUEUE, countdown=countdown)
        return True

    monkeypatch.setattr("jobs.queue.enqueue", enqueue)


@pytest.fixture
def control_plane_on(redis_url, tmp_path) -> Iterator[Callable[..., None]]:
    """control_plane_on(broker, queue) starts Celery beat and the control worker of ``make run``, at their default
    settings: the reconciler runs every 5 s, as it does in production."""
    processes: list[subprocess.Popen] = []

    def start(broker: str = "", queue: str = QUEUE) -> None:
        env = process_env(broker or redis_url, CELERY_QUEUE=queue)
        processes.append(start_process([sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
                                        "--schedule", str(tmp_path / "beat-schedule")], env, "fault-beat.log"))
        processes.append(start_process([sys.executable, "manage.py", "control_worker"], env, "fault-control.log"))

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def control_plane(control_plane_on) -> None:
    """Beat and the control worker on the suite's Redis and the faults' queue."""
    control_plane_on()


@pytest.fixture
def fault_worker(redis_url) -> Iterator[Callable[..., subprocess.Popen]]:
    """fault_worker(name, **env) starts a prefork worker (2 processes, as ``make run``) on the faults queue."""
    started: list[subprocess.Popen] = []

    def start(name: str, *, concurrency: int = 2, broker: str = "", queue: str = QUEUE, **env: str) -> subprocess.Popen:
        """``broker``: another Redis than the suite's (one a test restarts); ``queue``: the queue it consumes."""
        broker = broker or redis_url
        process = start_process(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--concurrency",
             str(concurrency), "--hostname", f"{name}-{os.getpid()}@%h", "--without-mingle", "--without-gossip",
             "-Q", queue],
            process_env(broker, CELERY_QUEUE=queue, **env), f"{name}.log")
        started.append(process)
        app = Celery(broker=broker, set_as_current=False)

        def ready() -> bool:
            replies = app.control.ping(timeout=0.5) or []
            return any(f"{name}-{os.getpid()}@" in host for reply in replies for host in reply)

        wait_for(ready, what=name, timeout=60, process=process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
