"""Print the Procfile that ``make run`` starts: the project's Procfile, plus a private Redis when none answers."""

from __future__ import annotations

import shlex

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.processes import private_redis_command, redis_answers


class Command(BaseCommand):
    help = "Print the Procfile for `make run`, adding a private redis-server when REDIS_URL does not answer."

    def handle(self, *args, **options) -> None:
        procfile = (settings.BASE_DIR / "Procfile").read_text()
        if not redis_answers(settings.REDIS_URL):
            try:
                command = private_redis_command(settings.REDIS_URL, settings.VAR_DIR)
            except RuntimeError as error:
                raise CommandError(str(error)) from None
            self.stderr.write(f"No Redis answers at {settings.REDIS_URL}; starting a private one under {settings.VAR_DIR}/redis.")
            procfile = f"redis: {shlex.join(command)}\n" + procfile
        self.stdout.write(procfile, ending="")
