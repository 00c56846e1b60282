"""Count the dataset tallies and their rollups (the facet counts' source, catalogue/tallies.py) again
from the datasets.

Every write of a dataset through the application keeps them exact; run this after writing datasets
another way (SQL, QuerySet.update(), a restore), or to check them: it says how many were wrong.
"""

from django.core.management.base import BaseCommand

from catalogue.tallies import recount


class Command(BaseCommand):
    help = (
        "Count the dataset tallies and rollups behind the facet counts again, from the datasets; reports those"
        " that were wrong."
    )

    def handle(self, *args, **options):
        result = recount()
        self.stdout.write(
            f"{result.tallies:,} tallies of {result.datasets:,} datasets, {result.rollups:,} rollups;"
            f" {result.wrong:,} tallies and {result.wrong_rollups:,} rollups were wrong and are fixed."
        )
