from catalogue.bench.command import BenchmarkCommand
from doi.bench.benchmarks import ITEMS, run


class Command(BenchmarkCommand):
    help = (
        "Time the publications on generated ones (generate_catalogue, then generate_publications): OAI-PMH "
        "ListRecords (first page in oai_dc and oai_datacite, a deep page by resumption token), PaNOSC dataset "
        "queries (parameter, text) and documents, a landing page. Prints median, p95 and query counts; --json "
        "writes the same. Fails on errors, never on time."
    )

    items = ITEMS

    def run(self, *, repeat, only):
        return run(repeat=repeat, only=only)

    def print_report(self, report, repeat):
        self.stdout.write(
            f"Publications: {report['publications']:,} ({report['withdrawn']:,} withdrawn) of "
            f"{report['investigations']:,} investigations, {report['datasets']:,} datasets; "
            f"{report['cpus']} CPUs; {repeat} runs per item."
        )
        self.write_results(report, key_width=34)
