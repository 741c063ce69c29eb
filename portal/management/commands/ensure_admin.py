"""Make sure an administrator account exists and say how to sign in, without ever printing the password."""

from __future__ import annotations

import json
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
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print the account and where its password is kept as one JSON object")

    def handle(self, *args: object, username: str, as_json: bool, **options: object) -> None:
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        created = user is None
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
        if as_json:  # where the password is, never the password
            self.stdout.write(json.dumps({"username": username, "created": created, "url": f"http://127.0.0.1:{settings.PORT}/",
                                          "password_file": str(password_file) if password_file.exists() else None}))
            return
        self.stdout.write(f"Sign in at http://127.0.0.1:{settings.PORT}/ as '{username}' with {how}.")

