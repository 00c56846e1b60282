import time

from django.core.management.base import BaseCommand, CommandError

from doi.bench.synthetic import SYNTHETIC_PREFIX, WITHDRAWN_EVERY, GeneratorError, generate


class Command(BaseCommand):
    help = (
        "Publish the released investigations of a generated catalogue (run after manage.py generate_catalogue): "
        f"one findable session DOI each under {SYNTHETIC_PREFIX}/SYNTHETIC.<n>, with creators and contributors, "
        f"one in {WITHDRAWN_EVERY} withdrawn (OAI-PMH deleted records). Refuses when publications exist. "
        "PostgreSQL only (COPY)."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            stats = generate()
        except GeneratorError as exc:
            raise CommandError(f"No publications generated: {exc}") from exc
        self.stdout.write("\n".join(stats.lines()))
        total = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Publications generated in {total:.1f} s (with ANALYZE)."))
