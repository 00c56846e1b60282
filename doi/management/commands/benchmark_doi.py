import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalogue.bench.servers import BenchmarkError
from doi.bench.benchmarks import ITEMS, run


class Command(BaseCommand):
    help = (
        "Time the publications on generated ones (generate_catalogue, then generate_publications): OAI-PMH "
        "ListRecords (first page in oai_dc and oai_datacite, a deep page by resumption token), PaNOSC dataset "
        "queries (parameter, text) and documents, a landing page. Prints median, p95 and query counts; --json "
        "writes the same. Fails on errors, never on time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5, help="Timed runs per item (after one warm-up)")
        parser.add_argument("--json", dest="json_path", help="Also write the results to this file")
        parser.add_argument("--only", help="Comma-separated item numbers, e.g. 1,2 (default: all)")

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
        report["command"] = f"manage.py benchmark_doi --repeat {repeat}" + (f" --only {only}" if only else "")
        self.stdout.write(
            f"Publications: {report['publications']:,} ({report['withdrawn']:,} withdrawn) of "
            f"{report['investigations']:,} investigations, {report['datasets']:,} datasets; "
            f"{report['cpus']} CPUs; {repeat} runs per item."
        )
        self.stdout.write(f"{'item':<34}{'median':>10}{'p95':>10} {'unit':<6}{'queries':>8}  target     title")
        for key, r in report["results"].items():
            self.stdout.write(
                f"{key:<34}{r['median']:>10.2f}{r['p95']:>10.2f} {r['unit']:<6}{r['queries'] or '':>8}  "
                f"{r['target']:<11}{r['title']}"
            )
        if json_path:
            Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"Written to {json_path}.")
