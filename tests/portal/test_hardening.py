"""Sign-in and deployment hardening: login throttling, TLS settings from the environment, private files under
VAR_DIR, and an admin password that is never printed.

The throttling tests run with django-axes fully on, against the real login view, as the suite always does.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from portal.env import env_optional_str, env_proxy_ssl_header, private_dir, private_file
from portal.signin import duration_words
from tests.conftest import PASSWORD, ROOT

LOCKED = "from this address is locked after 5 failed attempts"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Login throttling ------------------------------------------------------------------------------------------

def sign_in(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail_five_times(client, username: str = "owner", ip: str = "10.0.0.1"):
    for attempt in range(5):
        response = sign_in(client, username, f"wrong-{attempt}", ip)
    return response


@pytest.mark.django_db
def test_four_wrong_passwords_only_say_the_password_is_wrong(client, owner):
    for attempt in range(4):
        response = sign_in(client, "owner", f"wrong-{attempt}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "correct username and password" in html and LOCKED not in html


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_user_name_on_that_address_and_the_right_one_is_refused(client, owner):
    assert LOCKED in fail_five_times(client).content.decode()
    response = sign_in(client, "owner", PASSWORD)
    html = response.content.decode()
    assert response.status_code == 429
    assert ("Sign-in as &#x27;owner&#x27; from this address is locked after 5 failed attempts. Wait 15 minutes before "
            "you try again") in html
    assert "manage.py axes_reset_username owner" in html
    assert 'id="signin-locked"' in html and 'value="owner"' in html  # the login page itself, the name kept
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_after_the_cool_off_the_right_password_is_accepted(client, owner, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    fail_five_times(client)
    locked = sign_in(client, "owner", PASSWORD)
    assert locked.status_code == 429 and "Wait 1 second before you try again" in locked.content.decode()
    time.sleep(1.5)
    response = sign_in(client, "owner", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("vaults:list")
    assert client.session["_auth_user_id"] == str(owner.pk)


@pytest.mark.django_db
def test_each_attempt_while_locked_starts_the_fifteen_minutes_over(client, owner):
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        fail_five_times(client)
        clock.shift(timedelta(minutes=10))
        assert sign_in(client, "owner", PASSWORD).status_code == 429  # the wait starts over at 09:10
        clock.shift(timedelta(minutes=10))
        assert sign_in(client, "owner", PASSWORD).status_code == 429  # 09:20 is still within it; over again
        clock.shift(timedelta(minutes=15, seconds=1))
        assert sign_in(client, "owner", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_lockout_holds_neither_another_address_nor_another_user_name(client, owner, member):
    fail_five_times(client, "owner", ip="10.0.0.1")
    assert sign_in(client, "owner", PASSWORD, ip="10.0.0.1").status_code == 429
    assert sign_in(client, "owner", PASSWORD, ip="10.0.0.2").status_code == 302  # the administrator, elsewhere
    client.logout()
    assert sign_in(client, "member", PASSWORD, ip="10.0.0.1").status_code == 302  # another user, same address


@pytest.mark.django_db
def test_the_reset_command_the_sentence_names_lifts_the_lockout(client, owner):
    fail_five_times(client)
    call_command("axes_reset_username", "owner", stdout=io.StringIO())
    assert sign_in(client, "owner", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_limit_applies_to_the_admin_site_login_too(client, owner):
    for attempt in range(5):
        client.post(reverse("admin:login"), {"username": "owner", "password": f"wrong-{attempt}"}, REMOTE_ADDR="10.0.0.1")
    assert sign_in(client, "owner", PASSWORD).status_code == 429


def test_durations_are_worded_for_people():
    assert duration_words(timedelta(minutes=15)) == "15 minutes"
    assert duration_words(timedelta(hours=1)) == "1 hour"
    assert duration_words(timedelta(seconds=90)) == "90 seconds"
    assert duration_words(timedelta(seconds=1)) == "1 second"


# --- Settings from the environment -----------------------------------------------------------------------------

SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
response = Client(SERVER_NAME="localhost").get("/login/", secure=True)
print(json.dumps({
    "session": s.SESSION_COOKIE_SECURE, "csrf": s.CSRF_COOKIE_SECURE, "hsts": s.SECURE_HSTS_SECONDS,
    "subdomains": s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "proxy": s.SECURE_PROXY_SSL_HEADER,
    "limit": s.AXES_FAILURE_LIMIT, "cooloff": s.AXES_COOLOFF_TIME.total_seconds(),
    "master_key_set": s.MASTER_KEY is not None, "master_key_file": str(s.MASTER_KEY_FILE),
    "sts": response.headers.get("Strict-Transport-Security"),
}))
"""


def settings_process(var_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """portal.settings loaded in a fresh process with ``env`` and a VAR_DIR of its own."""
    base = {key: value for key, value in os.environ.items()
            if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PORTAL_MASTER_KEY"}}
    full = {**base, "DJANGO_SETTINGS_MODULE": "portal.settings", "VAR_DIR": str(var_dir), **env}
    return subprocess.run([sys.executable, "-c", SETTINGS_PROBE], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120)


def read_settings(var_dir: Path, **env: str) -> dict:
    done = settings_process(var_dir, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tls_settings_are_off_by_default(tmp_path):
    found = read_settings(tmp_path / "var")
    assert found == {**found, "session": False, "csrf": False, "hsts": 0, "subdomains": False, "proxy": None,
                     "sts": None, "limit": 5, "cooloff": 900.0, "master_key_set": False}
    assert found["master_key_file"] == str(tmp_path / "var" / "master.key")


def test_tls_settings_come_from_the_environment_and_a_secure_response_carries_hsts(tmp_path):
    found = read_settings(tmp_path / "var", SESSION_COOKIE_SECURE="1", CSRF_COOKIE_SECURE="yes",
                          SECURE_HSTS_SECONDS="31536000", SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
                          SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", LOGIN_FAILURE_LIMIT="3",
                          LOGIN_LOCKOUT_MINUTES="60", PORTAL_MASTER_KEY="not-printed")
    assert found == {**found, "session": True, "csrf": True, "hsts": 31536000, "subdomains": True,
                     "proxy": ["HTTP_X_FORWARDED_PROTO", "https"], "limit": 3, "cooloff": 3600.0, "master_key_set": True}
    assert found["sts"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("SECURE_HSTS_SECONDS", "a year", "is not an integer"),
    ("SECURE_HSTS_SECONDS", "-1", "below the minimum"),
    ("SESSION_COOKIE_SECURE", "maybe", "is not a boolean"),
    ("SECURE_PROXY_SSL_HEADER", "X-Forwarded Proto", "is not a header name"),
    ("LOGIN_FAILURE_LIMIT", "0", "below the minimum"),
])
def test_nonsense_in_a_tls_setting_stops_the_process_and_says_which(tmp_path, name, value, says):
    done = settings_process(tmp_path / "var", **{name: value})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and name in done.stderr and says in done.stderr


def test_the_master_key_is_never_printed_by_a_failing_start(tmp_path):
    done = settings_process(tmp_path / "var", PORTAL_MASTER_KEY="s3cret-master-key", SECURE_HSTS_SECONDS="x")
    assert done.returncode != 0 and "s3cret-master-key" not in done.stdout + done.stderr


def test_proxy_ssl_header_spellings(monkeypatch):
    for raw, expected in [("X-Forwarded-Proto", ("HTTP_X_FORWARDED_PROTO", "https")),
                          ("x-forwarded-ssl: on", ("HTTP_X_FORWARDED_SSL", "on")), ("", None)]:
        monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", raw)
        assert env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER") == expected
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https; evil")
    with pytest.raises(ImproperlyConfigured):
        env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")


def test_an_optional_string_is_none_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("PORTAL_MASTER_KEY", raising=False)
    assert env_optional_str("PORTAL_MASTER_KEY") is None
    monkeypatch.setenv("PORTAL_MASTER_KEY", "")
    assert env_optional_str("PORTAL_MASTER_KEY") is None
    monkeypatch.setenv("PORTAL_MASTER_KEY", "k")
    assert env_optional_str("PORTAL_MASTER_KEY") == "k"


@pytest.mark.django_db
def test_hsts_only_over_https_and_through_the_proxy_header_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert "Strict-Transport-Security" not in client.get(reverse("login")).headers  # plain HTTP: never
    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert response.headers["Strict-Transport-Security"] == "max-age=3600"


# --- Private files under VAR_DIR -------------------------------------------------------------------------------

def run_make_run_steps(var_dir: Path) -> str:
    """`make setup`: every step `make run` takes before it starts supervisord, and what they print."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env["VAR_DIR"] = str(var_dir)
    printed = subprocess.run(["make", "-n", "run"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "migrate" in printed.stdout and "ensure_admin" in printed.stdout  # `make run` does these first
    done = subprocess.run(["make", "--no-print-directory", "setup"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_make_run_keeps_var_private_and_never_prints_the_admin_password(tmp_path):
    var_dir = tmp_path / "var"
    output = run_make_run_steps(var_dir)
    password = (var_dir / "admin-password").read_text().strip()
    assert password not in output
    assert str(var_dir / "admin-password") in output
    assert mode(var_dir) == 0o700
    for name in ("portal.sqlite3", "admin-password", "secret_key"):
        assert mode(var_dir / name) == 0o600, name

    # An install made before these rules: everything open to the machine's other users.
    var_dir.chmod(0o755)
    for name in ("portal.sqlite3", "admin-password"):
        (var_dir / name).chmod(0o644)
    output = run_make_run_steps(var_dir)
    assert password not in output
    assert mode(var_dir) == 0o700
    assert mode(var_dir / "portal.sqlite3") == 0o600 and mode(var_dir / "admin-password") == 0o600


def test_private_dir_and_file_tighten_what_an_older_install_left_open(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)
    database = var_dir / "portal.sqlite3"
    for path in (database, var_dir / "portal.sqlite3-wal"):
        path.write_bytes(b"")
        path.chmod(0o644)
    assert private_dir(var_dir) == var_dir and mode(var_dir) == 0o700
    private_file(database)
    assert mode(database) == 0o600 and mode(var_dir / "portal.sqlite3-wal") == 0o600
    fresh = var_dir / "new.sqlite3"
    private_file(fresh)
    assert fresh.exists() and mode(fresh) == 0o600


@pytest.mark.django_db
def test_ensure_admin_says_where_the_password_is_but_never_prints_it(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password_file = tmp_path / "admin-password"
    password = password_file.read_text().strip()
    assert len(password) >= 12 and password not in out.getvalue()
    assert str(password_file) in out.getvalue() and mode(password_file) == 0o600
    password_file.chmod(0o644)  # left open by an older version
    again = io.StringIO()
    call_command("ensure_admin", stdout=again)
    assert password not in again.getvalue() and mode(password_file) == 0o600
