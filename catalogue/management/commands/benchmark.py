import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue.bench.benchmarks import ITEMS, BenchmarkError, run


class Command(BaseCommand):
    help = (
        "Time the catalogue on a generated one (manage.py generate_catalogue): pages, search, facets and "
        "file registration, as admin and as the user with many investigations. Prints median and p95, "
        "query counts and ratios; --json writes the same. Fails on errors, never on time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs per item (after one warm-up)")
        parser.add_argument("--json", dest="json_path", help="Also write the results to this file")
        parser.add_argument(
            "--only",
            help="Comma-separated item numbers to run, e.g. 1,7 (default: all; 6 also runs 3 and 5)",
        )

    def handle(self, *args, repeat, json_path, only, **options):
        if repeat < 1:
            raise CommandError("--repeat must be at least 1")
        items = tuple(item.strip() for item in only.split(",")) if only else ITEMS
        if unknown := set(items) - set(ITEMS):
            raise CommandError(f"--only: no item {', '.join(sorted(unknown))}; the items are {', '.join(ITEMS)}")
        try:
            report = run(repeat=repeat, only=items)
        except BenchmarkError as exc:
            raise CommandError(f"Benchmark failed: {exc}") from exc
        report["command"] = f"manage.py benchmark --repeat {repeat}" + (f" --only {only}" if only else "")
        catalogue = ", ".join(f"{count:,} {name}" for name, count in report["catalogue"].items())
        self.stdout.write(f"Catalogue: {catalogue}; {report['cpus']} CPUs; {repeat} runs per item.\n")
        self.stdout.write(f"{'item':<34}{'median':>12}{'p95':>12} {'unit':<11}{'queries':>8}  {'ratio':<32}target")
        for key, r in report["results"].items():
            if r["median"] is None:
                self.stdout.write(f"{key:<34}{r['note']:>24} {r['unit']:<11}{'':>8}  {'':<32}{r['target']}")
                continue
            ratio = f"{r['ratio']:.2f}x {r['ratio_to']}" if r["ratio"] is not None else r["note"]
            if r["throughput"] is not None:
                ratio = f"{r['throughput']:,.0f}/s"
            self.stdout.write(
                f"{key:<34}{_number(r['median'])}{_number(r['p95'])} {r['unit']:<11}{r['queries'] or '':>8}  "
                f"{ratio:<32}{r['target']}"
            )
        for key, r in report["results"].items():
            if b := r.get("breakdown"):
                self.stdout.write(
                    f"{key}: {b['total_ms']:.2f} ms = SQL {b['sql_ms']:.2f} (replayed alone {b['own_sql_ms']:.2f})"
                    f" + templates {b['templates_ms']:.2f} (Jinja2 table {b['jinja2_ms']:.2f})"
                    f" + view {b['view_ms']:.2f} + outside the view {b['outside_view_ms']:.2f}; Python time under"
                    f" cProfile: {', '.join(f'{name} {share:.0f}%' for name, share in b['profile_shares'].items())}"
                )
        if json_path:
            Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"Written to {json_path}.")


def _number(value: float | None) -> str:
    if value is None:
        return " " * 12
    return f"{value:>12,.0f}" if value >= 1000 else f"{value:>12.2f}"
