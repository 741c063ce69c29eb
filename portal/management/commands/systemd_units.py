"""Write the systemd units that run the portal's processes on a server (the ones in deploy/systemd/)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from portal.processes import PROCESSES, Install, systemd_units


class Command(BaseCommand):
    help = "Write one systemd service per process (restarted on failure) and a target grouping them into DIRECTORY."

    def add_arguments(self, parser: CommandParser) -> None:
        default = Install()
        parser.add_argument("directory", type=Path, help="where to write the unit files, e.g. /etc/systemd/system")
        parser.add_argument("--home", type=Path, default=default.home, help="the portal's checkout (WorkingDirectory)")
        parser.add_argument("--venv", type=Path, default=None, help="its virtualenv (default: HOME/.venv)")
        parser.add_argument("--env-file", type=Path, default=default.env_file, help="the settings (EnvironmentFile)")
        parser.add_argument("--user", default=default.user, help="the account the processes run as")

    def handle(self, *args: object, directory: Path, home: Path, venv: Path | None, env_file: Path, user: str,
               **options: object) -> None:
        install = Install(home=home, venv=venv, env_file=env_file, user=user)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in systemd_units(PROCESSES, install).items():
            (directory / name).write_text(text)
            self.stdout.write(str(directory / name))
