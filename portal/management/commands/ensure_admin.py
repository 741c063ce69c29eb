"""Make sure an administrator account exists and say how to sign in."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from portal.access import Role


class Command(BaseCommand):
    help = "Create the 'admin' account on first run (password kept in VAR_DIR/admin-password) and print how to sign in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: object, username: str, **options: object) -> None:
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
        user.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
        port = settings.PORT
        if password_file.exists():
            how = f"password in {password_file}: {password_file.read_text().strip()}"
        else:
            how = "its existing password"
        self.stdout.write(f"Sign in at http://127.0.0.1:{port}/ as '{username}' with {how}")
