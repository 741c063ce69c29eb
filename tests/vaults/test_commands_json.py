"""--json on the set-up commands: one JSON object, and never the administrator's password."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def printed(*args: str) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out)
    [line] = out.getvalue().splitlines()
    return json.loads(line)


def test_ensure_lab_subscription_json_says_what_it_made_then_kept(django_user_model, settings):
    django_user_model.objects.create_user("admin")
    made = printed("ensure_lab_subscription", "--member", "admin", "--json")
    assert made["created"] is True and made["members"] == ["admin"] and made["name"] == "Lab subscription"
    assert made["subscription_id"] == settings.LAB_SUBSCRIPTION_ID
    assert made["url"] == f"http://127.0.0.1:{settings.FABRIC_PORT}"
    kept = printed("ensure_lab_subscription", "--json")
    assert kept == {**made, "created": False}


def test_ensure_admin_json_names_the_password_file_never_the_password(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = printed("ensure_admin", "--json")
    password = (tmp_path / "admin-password").read_text().strip()
    assert first == {"username": "admin", "created": True, "url": f"http://127.0.0.1:{settings.PORT}/",
                     "password_file": str(tmp_path / "admin-password")}
    again = printed("ensure_admin", "--json")
    assert again["created"] is False and password not in json.dumps(again)
