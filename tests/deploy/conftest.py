"""PostgreSQL for the deployment tests: the server at 127.0.0.1:5432, or a private cluster when none answers.

``portal_on_postgres`` (module) makes a throwaway database, migrates it with ``manage.py migrate`` as an install
does, and points this process's default connection at it for the module's tests, whatever database the rest of
the suite runs on; the database is dropped afterwards. Processes started with ``tests.conftest.process_env`` get
its URL.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import psycopg
import pytest

from tests.conftest import ROOT, free_port, process_env, wait_for

# The lab fabric and the control plane (beat, control worker) of the fault tests, for test_two_workers.
from tests.faults.conftest import control_plane_on, fault_fabric  # noqa: F401


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{database}"

    def answers(self) -> bool:
        try:
            with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def execute(self, sql: str) -> None:
        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True) as db:
            db.execute(sql)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The PostgreSQL at 127.0.0.1:5432 (trust authentication, user postgres); else a private cluster of this run."""
    server = Postgres("127.0.0.1", 5432)
    if server.answers():
        yield server
        return
    with private_cluster() as private:
        yield private


@contextmanager
def private_cluster() -> Iterator[Postgres]:
    """A PostgreSQL cluster in a temporary folder, on a free port, trusting local connections; removed afterwards."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.fail("PostgreSQL does not answer at 127.0.0.1:5432 and initdb/pg_ctl are not installed: start a "
                    "PostgreSQL there (trust authentication for user postgres) or install it "
                    "(sudo apt-get install postgresql).")
    data = Path(tempfile.mkdtemp(prefix="portal-postgres-"))
    as_owner = _as_unprivileged_user(data)
    cluster = data / "cluster"
    server = Postgres("127.0.0.1", free_port())
    try:
        subprocess.run([*as_owner, initdb, "-D", str(cluster), "-U", "postgres", "-A", "trust"], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*as_owner, pg_ctl, "-D", str(cluster), "-l", str(data / "postgres.log"), "-w", "-o",
                        f"-p {server.port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True, timeout=120)
        try:
            wait_for(server.answers, what="private PostgreSQL")
            yield server
        finally:
            subprocess.run([*as_owner, pg_ctl, "-D", str(cluster), "-m", "fast", "stop"], capture_output=True,
                           timeout=60)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _as_unprivileged_user(directory: Path) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as the postgres account, owning ``directory``."""
    if os.geteuid() != 0:
        return []
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("PostgreSQL does not answer at 127.0.0.1:5432, and a private cluster cannot start: this runs "
                    "as root and there is no 'postgres' account to run it as.")
    os.chown(directory, account.pw_uid, account.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def default_database(url: str) -> Iterator[None]:
    """This process's default connection on ``url`` meanwhile (new threads' connections too)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connections

    before = connections.settings["default"]
    connections["default"].close()
    connections.settings["default"] = connections.configure_settings(
        {"default": dj_database_url.parse(url, conn_max_age=0)})["default"]
    del connections["default"]
    ContentType.objects.clear_cache()  # ids of another database
    try:
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = before
        del connections["default"]
        ContentType.objects.clear_cache()


@pytest.fixture(scope="module")
def portal_on_postgres(postgres, redis_url, django_db_blocker) -> Iterator[str]:
    """A throwaway database on ``postgres``, migrated, as this process's default database. Yields its URL."""
    name = f"deploy_{os.getpid()}"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    postgres.execute(f'CREATE DATABASE "{name}"')
    url = postgres.url(name)
    try:
        with django_db_blocker.unblock(), default_database(url):
            migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                                      env=process_env(redis_url), capture_output=True, text=True, timeout=300)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            yield url
    finally:
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
