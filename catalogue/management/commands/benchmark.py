from catalogue.bench.benchmarks import ITEMS, run
from catalogue.bench.command import BenchmarkCommand


class Command(BenchmarkCommand):
    help = (
        "Time the catalogue on a generated one (manage.py generate_catalogue): pages, search, facets and "
        "file registration, as admin and as the user with many investigations. Prints median and p95, "
        "query counts and ratios; --json writes the same. Fails on errors, never on time."
    )

    items = ITEMS
    only_help = "Comma-separated item numbers to run, e.g. 1,7 (default: all; 6 also runs 3 and 5)"

    def run(self, *, repeat, only):
        return run(repeat=repeat, only=only)

    def print_report(self, report, repeat):
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
                    f" + templates {b['templates_ms']:.2f} (Jinja2 {b['jinja2_ms']:.2f})"
                    f" + view {b['view_ms']:.2f} + outside the view {b['outside_view_ms']:.2f}; Python time under"
                    f" cProfile: {', '.join(f'{name} {share:.0f}%' for name, share in b['profile_shares'].items())}"
                )


def _number(value: float | None) -> str:
    if value is None:
        return " " * 12
    return f"{value:>12,.0f}" if value >= 1000 else f"{value:>12.2f}"
