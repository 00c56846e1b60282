import time

from django.core.management.base import BaseCommand, CommandError

from catalogue.bench.scales import SCALES, GeneratorError
from catalogue.bench.synthetic import generate


class Command(BaseCommand):
    help = (
        "Fill an empty PostgreSQL catalogue with a synthetic one for the benchmarks: tiny (tests), small "
        "(about 10,000 datasets, CI), medium (100,000) or large (1 million datasets, 20 million files)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=1, help="The same seed gives the same catalogue")

    def handle(self, *args, scale, seed, **options):
        started = time.perf_counter()
        try:
            stats = generate(scale=SCALES[scale], seed=seed)
        except GeneratorError as exc:
            raise CommandError(f"No catalogue generated: {exc}") from exc
        self.stdout.write("\n".join(stats.lines()))
        total = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Scale {scale}, seed {seed}: generated in {total:.1f} s (with ANALYZE)."))
