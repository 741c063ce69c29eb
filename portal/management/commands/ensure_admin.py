"""Make sure an administrator account exists and say how to sign in, without ever printing the password."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from portal.access import Role
from portal.env import private_file, write_private_text


class Command(BaseCommand):
    help = ("Create the 'admin' account on first run, with its password in VAR_DIR/admin-password (mode 0600), "
            "and print where to find it. The password itself is never printed: terminals and logs keep what they show.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: object, username: str, **options: object) -> None:
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
            write_private_text(password_file, password)
        user.groups.add(Group.objects.get(name=Role.ADMINISTRATOR))
        if password_file.exists():
            private_file(password_file)  # an older install's file may be more open
            how = f"the password in {password_file} (readable by this user only; change it after signing in)"
        else:
            how = "its existing password"
        self.stdout.write(f"Sign in at http://127.0.0.1:{settings.PORT}/ as '{username}' with {how}.")

