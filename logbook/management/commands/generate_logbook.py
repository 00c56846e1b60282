import time

from django.core.management.base import BaseCommand, CommandError

from logbook.bench.synthetic import EVENTS_PER_DATASET, GeneratorError, generate


class Command(BaseCommand):
    help = (
        "Fill the empty logbook of a generated catalogue (manage.py generate_catalogue) with synthetic events "
        f"for the benchmarks: {EVENTS_PER_DATASET} per dataset (10 million at the large scale, 100,000 in the "
        "bench investigation), 1 % more in the beamline logbooks, a few broadcasts. PostgreSQL only (COPY)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="The same seed gives the same logbooks")
        parser.add_argument("--per-dataset", type=int, default=EVENTS_PER_DATASET, help="Events per dataset")

    def handle(self, *args, seed, per_dataset, **options):
        if per_dataset < 1:
            raise CommandError("--per-dataset must be at least 1")
        started = time.perf_counter()
        try:
            stats = generate(seed=seed, per_dataset=per_dataset)
        except GeneratorError as exc:
            raise CommandError(f"No logbook generated: {exc}") from exc
        self.stdout.write("\n".join(stats.lines()))
        total = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Seed {seed}: logbooks generated in {total:.1f} s (with ANALYZE)."))
