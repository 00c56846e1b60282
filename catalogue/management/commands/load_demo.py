import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from catalogue import demo


class Command(BaseCommand):
    help = (
        "Load the demo catalogue (ID30A-1, BM29, BM05 and CM01; an MX, a BioSAXS, a HiP-CT and a cryo-ET "
        "session with their datasets and files) and the demo accounts. Idempotent: a second run changes "
        "nothing. Passwords: $DEMO_PASSWORD, default 'demo'. Files go into each session's data folder "
        "(settings.DATA_FOLDER_PATTERN in the first of settings.DATA_ROOTS)."
    )

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD") or "demo"
        try:
            report = demo.load_demo(password=password)
        except demo.DemoError as exc:
            raise CommandError(f"The demo was not loaded: {exc}") from exc

        self.stdout.write(self.style.SUCCESS(f"Demo catalogue loaded (files under {settings.DATA_ROOTS[0]})."))
        for kind, outcomes in report.counts.items():
            summary = ", ".join(f"{number} {outcome}" for outcome, number in outcomes.items() if number)
            self.stdout.write(f"  {kind:<24}{summary}")

        portal = settings.PORTAL_URL  # where `make run` serves: http://127.0.0.1:$PORT
        password_text = "$DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else password
        self.stdout.write(f"\nSign in at {portal}{reverse('login')}, password {password_text} for every account:")
        for username, roles in demo.account_roles().items():
            self.stdout.write(f"  {username:<8}{'; '.join(roles)}")
        released = [session.proposal for session in demo.sessions() if session.release_date() <= timezone.now()]
        self.stdout.write(f"  Visitors who do not sign in see the released sessions only: {', '.join(released)}.")

        self.stdout.write(f"\nAPI key of {demo.API_KEY_INSTRUMENT} ({demo.API_KEY_NAME}):")
        if report.api_key_secret:
            self.stdout.write(self.style.WARNING(f"  {report.api_key_secret}"))
            self.stdout.write("  Copy it now: it is stored hashed and will not be shown again. Use it as")
            self.stdout.write(
                f"  curl -H 'Authorization: Api-Key {report.api_key_secret}' {portal}{reverse('api:dataset-list')}"
            )
        else:
            self.stdout.write("  It exists already and its secret was shown when it was created.")
            new_key = reverse("admin:catalogue_instrumentapikey_add")
            self.stdout.write(f"  To get a new one, add a key as admin at {portal}{new_key}")
