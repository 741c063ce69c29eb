from __future__ import annotations

import pytest
from django.core.management import call_command

from vaults.models import Subscription

pytestmark = pytest.mark.django_db


def test_lab_subscription_is_created_once_with_its_members(django_user_model, settings):
    admin = django_user_model.objects.create_user("admin")
    call_command("ensure_lab_subscription", "--member", "admin")
    call_command("ensure_lab_subscription", "--member", "admin")
    subscription = Subscription.objects.get()
    assert subscription.name == "Lab subscription"
    assert subscription.subscription_id == settings.LAB_SUBSCRIPTION_ID
    assert subscription.host == f"127.0.0.1:{settings.FABRIC_PORT}"
    assert list(subscription.members.all()) == [admin]


def test_admin_account_is_made_once_with_a_private_password(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("ensure_admin")
    first = capsys.readouterr().out
    password = (tmp_path / "admin-password").read_text().strip()
    assert password not in first and (tmp_path / "admin-password").stat().st_mode & 0o777 == 0o600
    assert str(tmp_path / "admin-password") in first  # where to find it, never the password itself
    call_command("ensure_admin")
    assert password not in capsys.readouterr().out
    from django.contrib.auth import authenticate
    from django.http import HttpRequest

    # Sign-in throttling (django-axes) needs the request of the sign-in; its docs advise a bare one in tests.
    assert authenticate(HttpRequest(), username="admin", password=password) is not None
