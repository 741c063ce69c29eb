"""The first screen of ``make run`` and the web process's log when a page first loads.

``make setup`` is everything ``make run`` does before it starts the processes; it runs here for real, in a var
directory of its own. The web process runs the command line of ``portal.processes.PROCESSES`` that supervisord and
systemd run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from portal.processes import PROCESSES
from tests.conftest import PASSWORD, ROOT, free_port, port_open, process_env, start_process, stop_process, wait_for

GUID = re.compile(r"^\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*$")


@pytest.mark.integration
def test_make_run_says_the_url_how_to_sign_in_and_what_the_lab_holds(tmp_path):
    var = tmp_path / "var"
    env = {key: value for key, value in os.environ.items()
           if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(VAR_DIR=str(var), PORT="8765", FABRIC_PORT="8766")
    started = time.monotonic()
    done = subprocess.run(["make", "--no-print-directory", "setup"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= 10, done.stdout  # one screen, not a migration log
    assert lines[0] == "Lab fabric (new): 13 virtual machines in 8 cloud services, in 3 regions."
    assert re.match(r"  East US\s+contoso-web \(web01, web02\) · tailspin-web \(web01\)", lines[1])
    assert any(line.startswith("  West US") and "fabrikam-app (app01, app02, legacy01)" in line for line in lines)
    assert any(line.startswith("  North Europe") and "northwind-eu (web01, files01)" in line for line in lines)
    password_file = var / "admin-password"
    assert lines[-1] == (f"Sign in at http://127.0.0.1:8765/ as 'admin' with the password in {password_file} (readable "
                         "by this user only; change it after signing in).")
    assert not any(GUID.match(line) for line in lines)
    assert password_file.read_text().strip() not in done.stdout + done.stderr
    assert done.stderr.strip() == ""

    again = subprocess.run(["make", "--no-print-directory", "setup"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=180)
    assert again.stdout.splitlines()[0] == ("Lab fabric (kept from the last run): 13 virtual machines in 8 cloud "
                                            "services, in 3 regions.")
    print(f"make setup: {took:.1f}s the first time")


def web_command(port: int) -> list[str]:
    [web] = [p for p in PROCESSES if p.name == "web"]
    argv = [arg.replace("${PORT}", str(port)) for arg in web.argv]
    return [str(Path(sys.executable).parent / argv[0]), *argv[1:]]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_first_page_load_logs_no_warning(member, redis_url, settings):
    """Sign in, load the vault list with its stylesheet, scripts and icon, open the event stream: the web process
    says nothing about lifespan or synchronous iterators."""
    port = free_port()
    log = Path(settings.VAR_DIR) / "logs" / f"first-load-{port}.log"
    process = start_process(web_command(port), process_env(redis_url), log.name)
    try:
        wait_for(lambda: port_open(port), what="the web process", process=process)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, trust_env=False, timeout=10) as client:
            client.get("/login/")
            signed_in = client.post("/login/", data={"username": member.username, "password": PASSWORD,
                                                     "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                                    headers={"Referer": f"{base}/login/"})
            assert signed_in.status_code == 302
            page = client.get("/vaults/").text
            for asset in re.findall(r'(?:href|src)="(/static/[^"]+|/favicon.ico)"', page):
                answer = client.get(asset)
                assert answer.status_code == 200 and len(answer.content) > 0, asset
            assert client.get("/favicon.ico").status_code == 200
            with client.stream("GET", "/events/") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                first = next(stream.iter_text())
                assert first.startswith("event: ready")
        time.sleep(0.5)
    finally:
        stop_process(process)
    text = log.read_text()
    assert "Started server process" in text
    assert "StreamingHttpResponse must consume" not in text
    assert "lifespan" not in text.lower()
    assert "Not Found" not in text
