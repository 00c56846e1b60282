"""Dataset tallies (models.DatasetTally): the number of datasets and their bytes per investigation,
definition and start year, which the facet counts and the investigations' totals sum
(selectors.dataset_facets, selectors.investigation_list).

Every save and delete of a dataset through the ORM keeps them exact, in its own transaction: a new
dataset adds 1 and its size to its tally, a save that changes its investigation, definition or start
year moves it to another, one that changes its size (file registration) adds the difference, a
delete takes it away. Each change is one UPSERT, so concurrent writers add to the
same row without losing counts (the row stays locked until they commit). A save or delete of a
stored dataset first locks its row and reads what it is counted under, so that two writers of the
same dataset cannot count it twice. QuerySet.update() of those fields, bulk_create() and COPY bypass
the signals: recount() after them (manage.py recount_datasets; the synthetic catalogue does).
"""

from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from .models import Dataset, DatasetTally

FIELDS = ("investigation_id", "definition_id", "start_date")  # what decides a dataset's tally
# The same, as the field names that save(update_fields=...) may give.
KEY_FIELDS = {*FIELDS, "investigation", "definition"}
SAVED_FIELDS = {*KEY_FIELDS, "size"}

Key = tuple[int, int | None, int | None]  # investigation, definition, year
Stored = tuple[Key, int]  # a dataset's tally and its size


def year_of(start_date: datetime | None) -> int | None:
    """The year a start date is counted in: that of settings.TIME_ZONE, as the year filter reads it."""
    if start_date is None:
        return None
    if timezone.is_naive(start_date):
        start_date = timezone.make_aware(start_date)  # as Django stores it
    return start_date.astimezone(timezone.get_default_timezone()).year


def year_expression() -> ExtractYear:
    """year_of in SQL."""
    return ExtractYear("start_date", tzinfo=timezone.get_default_timezone())


def _add(changes: dict[Key, list[int]]) -> None:
    """Add [datasets, bytes] to the tallies, in one statement. The rows go in key order, so that two
    writers moving datasets between the same tallies lock them in the same order."""
    rows = sorted(((key, n) for key, n in changes.items() if any(n)), key=lambda row: tuple(v or 0 for v in row[0]))
    if not rows:
        return
    table = DatasetTally._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (investigation_id, definition_id, year, datasets, size)"
            f" VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(rows))}"
            # The expressions of the unique constraint dataset_tally_key.
            " ON CONFLICT (investigation_id, COALESCE(definition_id, 0), COALESCE(year, 0))"
            f" DO UPDATE SET datasets = {table}.datasets + EXCLUDED.datasets, size = {table}.size + EXCLUDED.size",
            [value for key, (n, size) in rows for value in (*key, n, size)],
        )


def _key(investigation_id: int, definition_id: int | None, start_date: datetime | None) -> Key:
    return investigation_id, definition_id, year_of(start_date)


def _stored(pk: int) -> Stored | None:
    """What the stored row is counted under and its size, locked until the transaction ends; None if
    it is gone."""
    stored = Dataset.objects.select_for_update().filter(pk=pk).values_list(*FIELDS, "size").first()
    return None if stored is None else (_key(*stored[:3]), stored[3])


@receiver(pre_save, sender=Dataset)
def _before_save(sender, instance: Dataset, update_fields=None, **kwargs) -> None:
    if instance.pk is not None and (update_fields is None or SAVED_FIELDS & update_fields):
        instance._tallied_as = _stored(instance.pk)


@receiver(post_save, sender=Dataset)
def _after_save(sender, instance: Dataset, created: bool, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not SAVED_FIELDS & update_fields:
        return
    before = None if created else instance._tallied_as
    if before is not None and update_fields is not None and not KEY_FIELDS & update_fields:
        key = before[0]  # only the size changed (its other fields may not even be loaded)
    else:
        key = _key(*(getattr(instance, name) for name in FIELDS))
    changes = defaultdict(lambda: [0, 0], {key: [1, instance.size]})
    if before is not None:
        changes[before[0]][0] -= 1
        changes[before[0]][1] -= before[1]
    _add(changes)


@receiver(pre_delete, sender=Dataset)
def _before_delete(sender, instance: Dataset, **kwargs) -> None:
    # Before the DELETE, so that the row can be locked and read: the delete may have loaded it
    # before another writer moved it.
    before = _stored(instance.pk)
    if before is not None:
        _add({before[0]: [-1, -before[1]]})


class Recount(NamedTuple):
    tallies: int
    datasets: int
    wrong: int  # tallies whose count or size was not that of the datasets


def recount() -> Recount:
    """Count every tally again from the datasets, in one INSERT ... SELECT ... GROUP BY. Writers of
    datasets wait meanwhile (PostgreSQL: a SHARE lock on their table)."""
    tallies, datasets = DatasetTally._meta.db_table, Dataset._meta.db_table
    counted = (
        Dataset.objects.order_by()
        .values("investigation_id", "definition_id", year=year_expression())
        .annotate(datasets=Count("id"), size=Sum("size"))
    )
    select, params = counted.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {datasets} IN SHARE MODE")
        before = _counts()
        cursor.execute(f"DELETE FROM {tallies}")
        cursor.execute(
            f"INSERT INTO {tallies} (investigation_id, definition_id, year, datasets, size) {select}", params
        )
        after = _counts()
    wrong = sum(before.get(key) != after.get(key) for key in before.keys() | after.keys())
    return Recount(len(after), sum(n for n, _ in after.values()), wrong)


def _counts() -> dict[Key, tuple[int, int]]:
    """The tallies that count datasets: their number and bytes."""
    rows = DatasetTally.objects.exclude(datasets=0).values_list(
        "investigation_id", "definition_id", "year", "datasets", "size"
    )
    return {(investigation, definition, year): (n, size) for investigation, definition, year, n, size in rows}
