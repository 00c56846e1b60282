from catalogue.bench.command import BenchmarkCommand
from logbook.bench.benchmarks import ITEMS, run


class Command(BenchmarkCommand):
    help = (
        "Time the logbook on generated logbooks (generate_catalogue, then generate_logbook): the bench "
        "investigation's logbook page (first and deep by cursor), a full-text search across what bench-user "
        "reads, event ingestion through the API at 8 clients. Prints median, p95 and query counts; --json "
        "writes the same. Fails on errors, never on time."
    )

    items = ITEMS

    def run(self, *, repeat, only):
        return run(repeat=repeat, only=only)

    def print_report(self, report, repeat):
        self.stdout.write(
            f"Logbook: {report['events']:,} events, {report['bench_investigation_events']:,} in the bench "
            f"investigation; {report['cpus']} CPUs; {repeat} runs per item."
        )
        self.write_results(report, key_width=34)
