"""Dataset tallies (models.DatasetTally): the number of datasets and their bytes per investigation,
definition and start year, which the facet counts and the investigations' totals sum
(selectors.dataset_facets, selectors.investigation_list); and their rollups (models.DatasetRollup):
the same per instrument, definition, start year and release month of the investigations, which the
facet counts read for everything released before the current month.

Every save and delete of a dataset through the ORM keeps them exact, in its own transaction: a new
dataset adds 1 and its size to its tally, a save that changes its investigation, definition or start
year moves it to another, one that changes its size (file registration) adds the difference, a
delete takes it away. Each change is one UPSERT, so concurrent writers add to the
same row without losing counts (the row stays locked until they commit). A save or delete of a
stored dataset first locks its row and reads what it is counted under, so that two writers of the
same dataset cannot count it twice. QuerySet.update() of those fields, bulk_create() and COPY bypass
the signals: recount() after them (manage.py recount_datasets; the synthetic catalogue does).

Each change to tallies goes to the rollups of their investigations too, in a second UPSERT, once
the investigations' instrument and release date are read under a lock (PostgreSQL: FOR KEY SHARE)
that a change of the investigation waits for. A save of an investigation that changes its
instrument or release month locks its row first (FOR UPDATE, which waits for the writers of its
datasets and holds back new ones) and moves its tallies' totals from the old rollup to the new one.
QuerySet.update() of an investigation's instrument or release date bypasses that: recount() after it.
"""

from collections import defaultdict
from datetime import date, datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Count, DateField, F, Model, Sum
from django.db.models.functions import Cast, ExtractYear, TruncMonth
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from .models import Dataset, DatasetRollup, DatasetTally, Investigation

FIELDS = ("investigation_id", "definition_id", "start_date")  # what decides a dataset's tally
# The same, as the field names that save(update_fields=...) may give.
KEY_FIELDS = {*FIELDS, "investigation", "definition"}
SAVED_FIELDS = {*KEY_FIELDS, "size"}
# What decides the rollups an investigation's tallies go to, as update_fields may name them.
INSTRUMENT_FIELDS = {"instrument", "instrument_id"}
RELEASE_FIELDS = {*INSTRUMENT_FIELDS, "release_date"}

Key = tuple[int, int | None, int | None]  # investigation, definition, year
Stored = tuple[Key, int]  # a dataset's tally and its size
Release = tuple[int, date]  # an investigation's instrument and release month: its rollups' share of the key

TALLY_COLUMNS = ("investigation_id", "definition_id", "year")
ROLLUP_COLUMNS = ("instrument_id", "release_month", "definition_id", "year")
# The expressions of the unique constraints dataset_tally_key and dataset_rollup_key.
TALLY_CONFLICT = "(investigation_id, COALESCE(definition_id, 0), COALESCE(year, 0))"
ROLLUP_CONFLICT = "(instrument_id, release_month, COALESCE(definition_id, 0), COALESCE(year, 0))"


def _local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)  # as Django stores it
    return moment.astimezone(timezone.get_default_timezone())


def year_of(start_date: datetime | None) -> int | None:
    """The year a start date is counted in: that of settings.TIME_ZONE, as the year filter reads it."""
    return None if start_date is None else _local(start_date).year


def year_expression() -> ExtractYear:
    """year_of in SQL."""
    return ExtractYear("start_date", tzinfo=timezone.get_default_timezone())


def month_of(release_date: datetime) -> date:
    """The release month an investigation is rolled up in: the first day of its release date's month,
    in settings.TIME_ZONE as year_of."""
    return _local(release_date).date().replace(day=1)


def month_expression(release_date: str) -> Cast:
    """month_of in SQL, of the release date field named."""
    return Cast(TruncMonth(release_date, tzinfo=timezone.get_default_timezone()), DateField())


def month_start(moment: datetime) -> datetime:
    """The first instant of the month of `moment` in settings.TIME_ZONE: release dates before it are
    rolled up in earlier months, the others in its month or later."""
    return _local(moment).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _upsert(model: type[Model], columns: tuple[str, ...], conflict: str, changes: dict[tuple, list[int]]) -> None:
    """Add [datasets, bytes] to the rows of `model` whose `columns` hold each key, in one statement.
    The rows go in key order, so that two writers of the same rows lock them in the same order."""
    rows = sorted(((key, n) for key, n in changes.items() if any(n)), key=lambda row: tuple(v or 0 for v in row[0]))
    if not rows:
        return
    table = model._meta.db_table
    row = f"({', '.join(['%s'] * (len(columns) + 2))})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}, datasets, size) VALUES {', '.join([row] * len(rows))}"
            f" ON CONFLICT {conflict}"
            f" DO UPDATE SET datasets = {table}.datasets + EXCLUDED.datasets, size = {table}.size + EXCLUDED.size",
            [value for key, (n, size) in rows for value in (*key, n, size)],
        )


def _add(changes: dict[Key, list[int]]) -> None:
    """Add [datasets, bytes] to the tallies, and the same to their investigations' rollups."""
    changes = {key: n for key, n in changes.items() if any(n)}
    if not changes:
        return
    releases = _releases({investigation for investigation, _, _ in changes})
    rollups = defaultdict(lambda: [0, 0])
    for (investigation, definition, year), (n, size) in changes.items():
        rollup = rollups[(*releases[investigation], definition, year)]
        rollup[0] += n
        rollup[1] += size
    _upsert(DatasetTally, TALLY_COLUMNS, TALLY_CONFLICT, changes)
    _upsert(DatasetRollup, ROLLUP_COLUMNS, ROLLUP_CONFLICT, rollups)


def _releases(investigation_ids: set[int]) -> dict[int, Release]:
    """The instrument and release month of each investigation, read under a lock held until the
    transaction ends. On PostgreSQL FOR KEY SHARE: other writers of their datasets share it, a save
    of the investigation (FOR UPDATE in _before_investigation_save) waits for it and holds it back,
    so that the rollups it moves are those this transaction added to. SQLite serialises writers."""
    investigations = (
        Investigation.objects.filter(pk__in=investigation_ids)
        .order_by("pk")
        .values_list("pk", "instrument_id", "release_date")
    )
    if connection.vendor == "postgresql":
        select, params = investigations.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"{select} FOR KEY SHARE", params)
            rows = cursor.fetchall()
    else:
        rows = list(investigations)
    return {pk: (instrument_id, month_of(release_date)) for pk, instrument_id, release_date in rows}


def _key(investigation_id: int, definition_id: int | None, start_date: datetime | None) -> Key:
    return investigation_id, definition_id, year_of(start_date)


def _stored(pk: int) -> Stored | None:
    """What the stored row is counted under and its size, locked until the transaction ends; None if
    it is gone."""
    stored = Dataset.objects.select_for_update().filter(pk=pk).values_list(*FIELDS, "size").first()
    return None if stored is None else (_key(*stored[:3]), stored[3])


def count_new(datasets: list[Dataset]) -> None:
    """Count datasets just inserted together (bulk_create sends no signals): one UPSERT of their
    tallies, one of their rollups."""
    changes = defaultdict(lambda: [0, 0])
    for dataset in datasets:
        counted = changes[_key(dataset.investigation_id, dataset.definition_id, dataset.start_date)]
        counted[0] += 1
        counted[1] += dataset.size
    _add(changes)


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


@receiver(pre_save, sender=Investigation)
def _before_investigation_save(sender, instance: Investigation, update_fields=None, **kwargs) -> None:
    # What an earlier save that failed may have left.
    instance.__dict__.pop("_released_as", None)
    if instance.pk is not None and (update_fields is None or RELEASE_FIELDS & update_fields):
        stored = (
            Investigation.objects.select_for_update()
            .filter(pk=instance.pk)
            .values_list("instrument_id", "release_date")
            .first()
        )
        instance._released_as = None if stored is None else (stored[0], month_of(stored[1]))


@receiver(post_save, sender=Investigation)
def _after_investigation_save(sender, instance: Investigation, created: bool, update_fields=None, **kwargs) -> None:
    before = instance.__dict__.pop("_released_as", None)
    if before is None or created:
        return
    # Fields that update_fields leaves out keep their stored value (they may not even be loaded).
    instrument_id, month = before
    if update_fields is None or INSTRUMENT_FIELDS & update_fields:
        instrument_id = instance.instrument_id
    if update_fields is None or "release_date" in update_fields:
        month = month_of(instance.release_date)
    if (instrument_id, month) != before:
        _move_rollups(instance.pk, before, (instrument_id, month))


def _move_rollups(investigation_id: int, before: Release, after: Release) -> None:
    """Move an investigation's tallies' totals from the rollups of its old instrument and release
    month to those of the new, in one statement. Its row is locked: no writer of its datasets is
    adding to its tallies' rollups meanwhile (_releases)."""
    tallies = DatasetTally.objects.filter(investigation_id=investigation_id).values_list(
        "definition_id", "year", "datasets", "size"
    )
    changes = defaultdict(lambda: [0, 0])
    for definition, year, n, size in tallies:
        for release, sign in ((before, -1), (after, 1)):
            change = changes[(*release, definition, year)]
            change[0] += sign * n
            change[1] += sign * size
    _upsert(DatasetRollup, ROLLUP_COLUMNS, ROLLUP_CONFLICT, changes)


class Recount(NamedTuple):
    tallies: int
    datasets: int
    wrong: int  # tallies whose count or size was not that of the datasets
    rollups: int
    wrong_rollups: int  # rollups whose count or size was not the sum of their tallies


def recount() -> Recount:
    """Count every tally again from the datasets, then every rollup from the tallies, each in one
    INSERT ... SELECT ... GROUP BY. Writers of datasets and investigations wait meanwhile (PostgreSQL:
    SHARE locks on their tables)."""
    tallies, rollups = DatasetTally._meta.db_table, DatasetRollup._meta.db_table
    counted = (
        Dataset.objects.order_by()
        .values("investigation_id", "definition_id", year=year_expression())
        .annotate(datasets=Count("id"), size=Sum("size"))
    )
    rolled_up = (
        DatasetTally.objects.order_by()
        .values(
            instrument=F("investigation__instrument_id"),
            release_month=month_expression("investigation__release_date"),
            definition_key=F("definition_id"),
            start_year=F("year"),
        )
        .annotate(n=Sum("datasets"), bytes=Sum("size"))
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Dataset, Investigation):
                cursor.execute(f"LOCK TABLE {model._meta.db_table} IN SHARE MODE")
        tallies_before, rollups_before = _counts(DatasetTally, TALLY_COLUMNS), _counts(DatasetRollup, ROLLUP_COLUMNS)
        cursor.execute(f"DELETE FROM {tallies}")
        select, params = counted.query.sql_with_params()
        cursor.execute(f"INSERT INTO {tallies} ({', '.join(TALLY_COLUMNS)}, datasets, size) {select}", params)
        cursor.execute(f"DELETE FROM {rollups}")
        select, params = rolled_up.query.sql_with_params()
        cursor.execute(f"INSERT INTO {rollups} ({', '.join(ROLLUP_COLUMNS)}, datasets, size) {select}", params)
        tallies_after, rollups_after = _counts(DatasetTally, TALLY_COLUMNS), _counts(DatasetRollup, ROLLUP_COLUMNS)
    return Recount(
        tallies=len(tallies_after),
        datasets=sum(n for n, _ in tallies_after.values()),
        wrong=_differences(tallies_before, tallies_after),
        rollups=len(rollups_after),
        wrong_rollups=_differences(rollups_before, rollups_after),
    )


def _counts(model: type[Model], columns: tuple[str, ...]) -> dict[tuple, tuple[int, int]]:
    """The tallies or rollups that count datasets: their number and bytes, by key."""
    rows = model.objects.exclude(datasets=0).values_list(*columns, "datasets", "size")
    return {tuple(row[:-2]): tuple(row[-2:]) for row in rows}


def _differences(before: dict, after: dict) -> int:
    return sum(before.get(key) != after.get(key) for key in before.keys() | after.keys())
