"""Print the supervisord configuration `make run` starts: the portal's processes, and a private Redis when none answers."""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.processes import PROCESSES, private_redis, redis_answers, supervisord_config


class Command(BaseCommand):
    help = ("Print the supervisord configuration for `make run` (each process restarted when it dies), "
            "adding a private redis-server when REDIS_URL does not answer.")

    def handle(self, *args: object, **options: object) -> None:
        processes = list(PROCESSES)
        if not redis_answers(settings.REDIS_URL):
            try:
                processes.insert(0, private_redis(settings.REDIS_URL, settings.VAR_DIR))
            except RuntimeError as error:
                raise CommandError(str(error)) from None
            self.stderr.write(f"No Redis answers at {settings.REDIS_URL}; starting a private one under {settings.VAR_DIR}/redis.")
        (settings.VAR_DIR / "logs").mkdir(parents=True, exist_ok=True)
        config = supervisord_config(processes, bin_dir=Path(sys.executable).parent, directory=settings.BASE_DIR,
                                    var_dir=settings.VAR_DIR, settings=settings)
        self.stdout.write(config, ending="")
