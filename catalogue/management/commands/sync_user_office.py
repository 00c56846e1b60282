"""Import proposals, sessions, participants and samples from the user office's export.

manage.py sync_user_office docs/user-office-export.json --dry-run
manage.py sync_user_office                  # the file named by USER_OFFICE_EXPORT
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalogue.people.usersync import SyncError, sync_file


class Command(BaseCommand):
    help = "Import the user office's export (JSON or CSV); --dry-run shows the plan and writes nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default="", help="the export; default: settings.USER_OFFICE_EXPORT")
        parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    def handle(self, *args, path, dry_run, **options):
        path = path or settings.USER_OFFICE_EXPORT
        if not path:
            raise CommandError("give the export's path, or set USER_OFFICE_EXPORT")
        try:
            report = sync_file(path, dry_run=dry_run)
        except (OSError, json.JSONDecodeError, KeyError, SyncError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        for line in report.lines():
            self.stdout.write(line)
        if report.errors:
            raise CommandError(f"{len(report.errors)} session(s) not imported")
