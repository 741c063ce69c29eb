"""deploy/compose.yaml and deploy/Dockerfile cannot drift from the product.

Every portal service runs one command line of ``portal.processes.PROCESSES`` unchanged, every process but the lab
fabric has its service, and every setting the file sets is one ``portal/settings.py`` reads (a renamed setting
would otherwise be silently ignored in production). ``docker compose config`` checks the file too where the compose
plugin is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management.base import CommandError

from portal.management.commands.job_worker import celery_hostname, queue_names
from portal.processes import PROCESSES

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The lab fabric serves 127.0.0.1 of one machine: a deployment points its subscriptions at a real endpoint.
NOT_IN_COMPOSE = {"fabric"}
# The one-shot service before the others: the install steps of deploy/systemd/README.md.
SETUP = ["sh", "-c", "python manage.py migrate --noinput && python manage.py ensure_admin"]
SECRETS = {"POSTGRES_PASSWORD": "pw", "SECRET_KEY": "s" * 50, "PORTAL_MASTER_KEY": "ab" * 32}

# Imports the settings in a fresh interpreter and prints every environment variable portal/ reads while doing so.
RECORD_SETTINGS_READS = """
import json, os, sys
seen = set()
original = os._Environ.__getitem__
def getitem(self, key):
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(sys.argv[1]):
            seen.add(key)
            break
        frame = frame.f_back
    return original(self, key)
os._Environ.__getitem__ = getitem
import portal.settings
print(json.dumps(sorted(seen)))
"""


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def portal_services(compose: dict) -> dict[str, dict]:
    """The services that run the portal's image."""
    return {name: service for name, service in compose["services"].items()
            if service.get("image", "").startswith("recovery-portal:")}


def expanded(argv: tuple[str, ...], environment: dict[str, str]) -> list[str]:
    """A process's command line with its ``${NAME}`` arguments taken from the service's environment."""
    return [re.sub(r"\$\{(\w+)\}", lambda match: str(environment[match.group(1)]), argument) for argument in argv]


@pytest.fixture(scope="module")
def settings_reads(tmp_path_factory) -> set[str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["VAR_DIR"] = str(tmp_path_factory.mktemp("settings-var"))
    done = subprocess.run([sys.executable, "-c", RECORD_SETTINGS_READS, str(ROOT / "portal")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_every_portal_service_runs_a_command_of_the_process_list(compose):
    services = portal_services(compose)
    by_name = {process.name: process for process in PROCESSES}
    assert services["setup"]["command"] == SETUP
    for name, service in services.items():
        if name == "setup":
            continue
        assert name in by_name, f"service {name} runs no process of portal/processes.py"
        assert service["command"] == expanded(by_name[name].argv, service["environment"]), name
    missing = set(by_name) - set(services) - NOT_IN_COMPOSE
    assert not missing, f"processes without a service in deploy/compose.yaml: {sorted(missing)}"


def test_every_setting_the_file_sets_is_one_the_settings_read(compose, settings_reads):
    assert {"DATABASE_URL", "REDIS_URL", "PORTAL_MASTER_KEY", "SECRET_KEY", "VAR_DIR", "VAULT_STORE_DIR",
            "WORKER_QUEUES"} <= settings_reads  # the recording itself works
    for name, service in portal_services(compose).items():
        unknown = set(service["environment"]) - settings_reads
        assert not unknown, f"{name} sets {sorted(unknown)}, which portal/settings.py never reads"
        for required in ("DATABASE_URL", "REDIS_URL", "PORTAL_MASTER_KEY", "SECRET_KEY", "VAR_DIR", "VAULT_STORE_DIR"):
            assert required in service["environment"], f"{name} lacks {required}"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")


def test_var_dir_and_the_vault_store_are_named_volumes_every_portal_service_mounts(compose):
    named = set(compose["volumes"])
    for name, service in portal_services(compose).items():
        mounts = dict(volume.split(":", 1)[::-1] for volume in service["volumes"])
        for setting in ("VAR_DIR", "VAULT_STORE_DIR"):
            assert mounts.get(service["environment"][setting]) in named, f"{name}: {setting} is not on a named volume"


def test_the_workers_take_the_data_queue_and_the_control_worker_the_control_queue(compose, settings):
    worker = compose["services"]["worker"]["environment"]
    assert queue_names(worker["WORKER_QUEUES"].split(",")) == [settings.CELERY_TASK_DEFAULT_QUEUE]
    assert queue_names(["data", "control"]) == [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CONTROL_QUEUE]
    assert celery_hostname(worker["WORKER_NAME"]) == "worker@%h"
    with pytest.raises(CommandError, match="WORKER_QUEUES='transfer'"):
        queue_names(["transfer"])
    # One beat and one control worker: two of either would send every periodic task twice.
    for name in ("beat", "control"):
        assert compose["services"][name].get("deploy", {}).get("replicas", 1) == 1


def test_the_dockerfile_builds_the_portal_on_python_3_11_slim():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "RUN pip install -r requirements.txt" in lines
    assert "USER recovery-portal" in lines


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "compose", "version"], capture_output=True).returncode != 0, reason="the docker compose plugin is absent")
def test_docker_compose_accepts_the_file():
    env = {**os.environ, **SECRETS}
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
