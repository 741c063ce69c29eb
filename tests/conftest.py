"""Shared fixtures: personas, a Redis that answers, and real server and worker processes.

Personas (after healthchecks' tests): ``owner`` administers the subscription,
``member`` operates it, ``reader`` only reads it, and ``outsider`` belongs to
another subscription and must see none of it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from portal.access import Role
from portal.processes import private_redis_command, redis_answers

ROOT = Path(__file__).resolve().parent.parent

# Playwright's sync API keeps an event loop running in this thread, which makes
# Django refuse ORM calls from fixtures and tests. Only this test process gets
# the opt-out; the servers and workers it starts keep Django's check.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
PASSWORD = "correct horse battery staple"


def run_async(coroutine):
    """Run a coroutine to completion on its own loop, in a thread.

    Playwright's sync API leaves an event loop running in the main thread, so
    asyncio.run() there would refuse.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# --- Language ---------------------------------------------------------

@pytest.fixture(autouse=True)
def _language_of_the_test_alone() -> Iterator[None]:
    """A request through the test client leaves its language active in this thread (LocaleMiddleware activates
    it and nothing deactivates it), so a Korean page would make the next test's sentences Korean."""
    yield
    from django.utils import translation

    translation.deactivate()


# --- Redis ---------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The test Redis: the configured one if it answers, else a private redis-server for the session."""
    url = settings.REDIS_URL
    if redis_answers(url):
        yield url
        return
    port = free_port()
    url = f"redis://127.0.0.1:{port}/15"
    process = subprocess.Popen(private_redis_command(url, settings.VAR_DIR), stdout=subprocess.DEVNULL)
    wait_for(lambda: redis_answers(url), what=f"private redis-server on {port}")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
    from portal import events

    events.set_redis(None)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# --- Personas ------------------------------------------------------------

def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def subscription(db):
    from vaults.models import Subscription

    return Subscription.objects.create(name="Lab subscription", subscription_id="00000000-0000-0000-0000-00000000000a",
                                       host="127.0.0.1:8100")


@pytest.fixture
def other_subscription(db):
    from vaults.models import Subscription

    return Subscription.objects.create(name="Other subscription", subscription_id="00000000-0000-0000-0000-00000000000b",
                                       host="127.0.0.1:8100")


@pytest.fixture
def owner(subscription):
    user = make_user("owner", Role.ADMINISTRATOR)
    subscription.members.add(user)
    return user


@pytest.fixture
def member(subscription):
    user = make_user("member", Role.OPERATOR)
    subscription.members.add(user)
    return user


@pytest.fixture
def reader(subscription):
    user = make_user("reader", Role.READER)
    subscription.members.add(user)
    return user


@pytest.fixture
def outsider(other_subscription):
    user = make_user("outsider", Role.ADMINISTRATOR)
    other_subscription.members.add(user)
    return user


@pytest.fixture
def vault(vm_lab, subscription, owner):
    """contoso-east, quick-created in East US by the administrator, on the personas' subscription pointed at
    ``vm_lab`` (which answers the region list). Like every new vault it holds DefaultPolicy."""
    from vaults.services.vaults import create_vault

    subscription.subscription_id, subscription.host = vm_lab.subscription_id, vm_lab.host
    subscription.save()
    vault = create_vault(owner, subscription, "contoso-east", "East US")
    store = vault.store_path
    yield vault
    shutil.rmtree(store, ignore_errors=True)  # the row is rolled back; the store is a directory


@pytest.fixture(scope="session")
def vm_lab(tmp_path_factory):
    """A lab fabric of this run for the vault pages' tests, answering without the lab's usual delays.

    It holds the seeded lab and 40 small VMs, vm00...vm09 in each of the cloud services scale-0000 (East US),
    scale-0001 (West US), scale-0002 (North Europe) and scale-0003 (East US). Its state is the run's own: tests
    register VMs in it freely (a VM registered again finds its backup extension installed).
    """
    from tests.fixtures.fabric import start_lab_fabric, stop_lab_fabric

    fabric = start_lab_fabric(tmp_path_factory.mktemp("vm-lab"), vms=54, log_name="vm-lab.log",
                              extra_args=("--op-delay", "0", "--agent-delay", "0"))
    try:
        yield fabric
    finally:
        stop_lab_fabric(fabric)


# --- Processes -----------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, *, what: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} was not ready within {timeout:.0f}s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def database_url_for_processes() -> str:
    """A URL for the test database the suite has just set up, for processes we start."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


def process_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url_for_processes(),
        REDIS_URL=redis_url,
        VAR_DIR=str(settings.VAR_DIR),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def start_process(args: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen:
    logs = Path(settings.VAR_DIR) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / log_name, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def portal_server(django_db_setup, django_db_blocker, redis_url) -> Iterator[str]:
    """The portal under uvicorn (ASGI, as `make run` serves it), on the test database. Yields its base URL."""
    port = free_port()
    process = start_process(
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log"],
        process_env(redis_url), "uvicorn.log",
    )
    try:
        wait_for(lambda: port_open(port), what="uvicorn", process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, redis_url) -> Iterator[subprocess.Popen]:
    """A real Celery worker (prefork, 2 processes) against the real Redis and the test database."""
    process = start_process(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO", "--concurrency", "2",
         "--hostname", f"test-{os.getpid()}@%h", "--without-mingle", "--without-gossip"],
        process_env(redis_url), "celery-worker.log",
    )
    from portal.celery import app

    def ready() -> bool:
        replies = app.control.ping(timeout=0.5) or []
        return any(f"test-{os.getpid()}@" in name for reply in replies for name in reply)

    try:
        wait_for(ready, what="celery worker", timeout=60, process=process)
        yield process
    finally:
        stop_process(process)


# --- Browser -------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser; flags that keep it off the network."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def screenshot_dir() -> Path:
    path = Path(settings.VAR_DIR) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def sign_in(portal_server):
    """sign_in(page, user) signs ``user`` in through the login form and lands on the vault list."""

    def _sign_in(page, user: User) -> None:
        page.goto(f"{portal_server}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{portal_server}/vaults/")

    return _sign_in


# Fixtures of each part of the system, shared with every suite.
from tests.fixtures.fabric import *  # noqa: E402,F403
from tests.fixtures.jobs import *  # noqa: E402,F403
from tests.fixtures.store import *  # noqa: E402,F403
from tests.fixtures.vaults import *  # noqa: E402,F403
