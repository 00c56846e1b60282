"""The benchmark commands' common part (manage.py benchmark, benchmark_logbook, benchmark_doi):
--repeat, --json and --only, the run, its errors as CommandError, the report written as JSON. Each
command says its items, how to run them and how to print the report."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from .servers import BenchmarkError


class BenchmarkCommand(BaseCommand):
    items: tuple[str, ...] = ()
    only_help = "Comma-separated item numbers, e.g. 1,2 (default: all)"

    def run(self, *, repeat: int, only: tuple[str, ...]) -> dict:
        raise NotImplementedError

    def print_report(self, report: dict, repeat: int) -> None:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs per item (after one warm-up)")
        parser.add_argument("--json", dest="json_path", help="Also write the results to this file")
        parser.add_argument("--only", help=self.only_help)

    def handle(self, *args, repeat, json_path, only, **options):
        if repeat < 1:
            raise CommandError("--repeat must be at least 1")
        items = tuple(item.strip() for item in only.split(",")) if only else self.items
        if unknown := set(items) - set(self.items):
            raise CommandError(f"--only: no item {', '.join(sorted(unknown))}; the items are {', '.join(self.items)}")
        try:
            report = self.run(repeat=repeat, only=items)
        except BenchmarkError as exc:
            raise CommandError(f"Benchmark failed: {exc}") from exc
        name = self.__module__.rsplit(".", 1)[-1]
        report["command"] = f"manage.py {name} --repeat {repeat}" + (f" --only {only}" if only else "")
        self.print_report(report, repeat)
        if json_path:
            Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"Written to {json_path}.")

    def write_results(self, report: dict, key_width: int) -> None:
        """The items as a table: median, p95, unit, queries, target and title."""
        self.stdout.write(
            f"{'item':<{key_width}}{'median':>10}{'p95':>10} {'unit':<10}{'queries':>8}  {'target':<11}title"
        )
        for key, r in report["results"].items():
            self.stdout.write(
                f"{key:<{key_width}}{r['median']:>10.2f}{r['p95']:>10.2f} {r['unit']:<10}{r['queries'] or '':>8}  "
                f"{r['target']:<11}{r['title']}"
            )
