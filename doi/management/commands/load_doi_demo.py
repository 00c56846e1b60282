from django.core.management.base import BaseCommand

from doi.demo import load


class Command(BaseCommand):
    help = "Publish the demo's session DOI and reserve alice's selection DOI (after load_demo; idempotent)."

    def handle(self, *args, **options):
        made = load()
        for line in made:
            self.stdout.write(f"Publication: {line}")
        if not made:
            self.stdout.write("Publications: nothing to do.")
