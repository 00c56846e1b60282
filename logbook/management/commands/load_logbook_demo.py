from django.core.management.base import BaseCommand

from logbook.demo.loader import load_logbook_demo


class Command(BaseCommand):
    help = "Load the demo logbook of the MX session, its beamline and a broadcast (after load_demo); idempotent."

    def handle(self, *args, **options):
        self.stdout.write(load_logbook_demo())
