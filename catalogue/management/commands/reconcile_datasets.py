"""Send again the file registrations still pending past a grace period (README, "Reliability").

The beat task catalogue.tasks.reconcile_registrations does the same every few minutes; run this after
an incident (Redis lost its queue, workers killed) not to wait for it, or with no beat running.
A registration sent twice is done once: the task finds nothing pending the second time.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kombu.exceptions import OperationalError

from catalogue.ingestion.registration import registrations_resend
from catalogue.models import PendingRegistration


class Command(BaseCommand):
    help = "Send again the file registrations pending for longer than a grace period (default: the setting)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.REGISTRATION_GRACE_SECONDS,
            help="seconds since a registration was last sent (default REGISTRATION_GRACE_SECONDS: %(default)s)",
        )

    def handle(self, *args, grace: float, **options):
        try:
            sent = registrations_resend(older_than=timedelta(seconds=grace))
        except OperationalError as exc:
            raise CommandError(f"the broker cannot be reached: {exc}") from exc
        pending = PendingRegistration.objects.values("dataset_id").distinct().count()
        self.stdout.write(f"Sent again {sent:,} registration(s); {pending:,} dataset(s) have a registration pending.")
