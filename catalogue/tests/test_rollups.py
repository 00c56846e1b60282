"""The dataset rollups (models.DatasetRollup, catalogue/tallies.py) and the facet counts read from
them (selectors.dataset_facets): for every reader and every state of the data policy the facets
equal a count of the datasets the reader may see; the rollups follow every write, concurrent ones
too; recount and the migration rebuild them; what the facets read does not grow with investigations."""

import io
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.utils import timezone

from catalogue import selectors
from catalogue.access import Actor
from catalogue.filtersets import DatasetFilterSet
from catalogue.models import Dataset, DatasetRollup, DatasetTally, Investigation, InvestigationUser
from catalogue.policy.services import investigation_release_date_change
from catalogue.tallies import month_start, year_of
from techniques.models import DatasetDefinition, Technique

from .conftest import key_actor, make_dataset, make_user

pytestmark = pytest.mark.django_db

# 31 December 23:30 UTC: already 2025 in the facility's time zone (Europe/Paris).
NEW_YEAR = datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


def release_dates() -> dict[str, datetime]:
    """The states of the data policy, relative to now and to the first instant of this month in
    settings.TIME_ZONE (where the facets switch from the rollups to the tallies)."""
    now = timezone.now()
    this_month = month_start(now)
    return {
        "years-ago": this_month - timedelta(days=1000),
        "last-month": this_month - timedelta(days=10),
        "last-instant-of-last-month": this_month - timedelta(microseconds=1),
        "first-instant-of-this-month": this_month,
        # 00:30 on the 1st in Paris, still the month before in UTC: the months are the facility's.
        "this-month-in-paris-only": this_month + timedelta(minutes=30),
        "later-today": now + timedelta(hours=1),
        "next-year": now + timedelta(days=365),
    }


@pytest.fixture
def saxs_definition(db) -> DatasetDefinition:
    technique = Technique.objects.create(code="saxs-tech", name="Test SAXS")
    return DatasetDefinition.objects.create(code="TEST_saxs", label="Test SAXS", kind="raw", technique=technique)


def released(instrument, name: str, release_date: datetime) -> Investigation:
    start = timezone.now() - timedelta(days=2000)
    return Investigation.objects.create(
        name=name,
        visit_id="v1",
        instrument=instrument,
        start_date=start,
        end_date=start + timedelta(days=1),
        release_date=release_date,
    )


@pytest.fixture
def world(instrument, other_instrument, raw_definition, saxs_definition) -> dict[str, Investigation]:
    """Per state of release_dates, an investigation on ID30 and one on BM29 ("ID30-last-month"...),
    each with four datasets: TEST_raw in 2024, TEST_saxs in 2025 (by Paris), no definition and no
    start date, TEST_raw in 2024 with two files (20 bytes)."""
    investigations = {}
    for state, release_date in release_dates().items():
        for on in (instrument, other_instrument):
            investigation = investigations[f"{on.name}-{state}"] = released(on, f"{on.name}-{state}", release_date)
            folder = f"/data/{investigation.name}"
            make_dataset(
                investigation, f"{folder}/a", definition=raw_definition, start_date=datetime(2024, 6, 1, tzinfo=UTC)
            )
            make_dataset(investigation, f"{folder}/b", definition=saxs_definition, start_date=NEW_YEAR)
            make_dataset(investigation, f"{folder}/c")
            make_dataset(
                investigation,
                f"{folder}/d",
                definition=raw_definition,
                start_date=datetime(2024, 2, 1, tzinfo=UTC),
                files=2,
            )
    return investigations


@pytest.fixture
def readers(world, scientist, other_api_key, staff) -> dict[str, Actor]:
    """Anonymous; a participant of two released and two embargoed investigations; the scientist of
    ID30; BM29's API key; an admin."""
    member = make_user("member")
    for name in ("ID30-last-month", "BM29-first-instant-of-this-month", "BM29-later-today", "ID30-next-year"):
        InvestigationUser.objects.create(user=member, investigation=world[name])
    return {
        "anonymous": Actor(user=AnonymousUser()),
        "participant": Actor(user=member),
        "instrument scientist": Actor(user=scientist),
        "API key": key_actor(other_api_key),
        "admin": Actor(user=staff),
    }


def queries(world) -> list[dict]:
    """No filter, each filter the rollups answer, two together, and investigations (the tallies)."""
    return [
        {},
        {"instrument": "BM29"},
        {"definition": "TEST_saxs"},
        {"technique": "test-tech"},
        {"year": 2025},
        {"instrument": "ID30", "year": 2024},
        {"investigation": world["ID30-next-year"].pk},
        {"investigation": world["BM29-last-month"].pk},
    ]


def _search(actor: Actor, query: dict) -> DatasetFilterSet:
    search = DatasetFilterSet(query, queryset=selectors.dataset_list(actor))
    assert search.is_valid(), search.errors
    return search


def facets(actor: Actor, query: dict) -> dict[str, dict]:
    """The facets, from the rollups and tallies: {facet: {value: count}}."""
    search = _search(actor, query)
    assert selectors.facets_are_tallied(search.form.cleaned_data)
    answer = selectors.dataset_facets(actor, search.form.cleaned_data, search.qs)
    return {facet: {row["value"]: row["count"] for row in rows} for facet, rows in answer.items()}


def counted(actor: Actor, query: dict) -> dict[str, dict]:
    """The same, counted one by one over the datasets the list gives the reader for the query."""
    counts = {facet: Counter() for facet in selectors.FACETS}
    for dataset in _search(actor, query).qs:
        counts["instrument"][dataset.investigation.instrument.name] += 1
        counts["technique"][dataset.definition.technique.code if dataset.definition else None] += 1
        counts["year"][year_of(dataset.start_date)] += 1
    return {facet: dict(counter) for facet, counter in counts.items()}


def rollup_counts() -> dict[tuple, tuple[int, int]]:
    """The rollups that count something: {(instrument, release month, definition, year): (datasets, bytes)}."""
    rows = DatasetRollup.objects.exclude(datasets=0).values_list(
        "instrument_id", "release_month", "definition_id", "year", "datasets", "size"
    )
    return {tuple(row[:4]): tuple(row[4:]) for row in rows}


def live_rollups() -> dict[tuple, tuple[int, int]]:
    """What the rollups should say, from the datasets and their investigations' release dates."""
    totals = Counter()
    for dataset in Dataset.objects.select_related("investigation"):
        release = timezone.localtime(dataset.investigation.release_date)
        key = (dataset.investigation.instrument_id, release.date().replace(day=1), dataset.definition_id)
        totals[(*key, year_of(dataset.start_date))] += 1
        totals[(*key, year_of(dataset.start_date), "size")] += dataset.size
    return {key: (n, totals[(*key, "size")]) for key, n in totals.items() if len(key) == 4}


def assert_exact(readers: dict[str, Actor], world) -> None:
    assert rollup_counts() == live_rollups()
    for role, actor in readers.items():
        for query in queries(world):
            assert facets(actor, query) == counted(actor, query), (role, query)


# --- The facets, for every reader and release state ---------------------------------------------


def test_facets_count_what_each_reader_may_see(world, readers):
    assert_exact(readers, world)
    # Released: 5 of the 7 states (4 in the first half hour of a month), 4 datasets each, counted once
    # whether from the rollups or the tallies; embargoed: "later today" and "next year".
    public = 4 * sum(i.release_date <= timezone.now() for i in world.values() if i.name.startswith("ID30"))
    assert facets(readers["anonymous"], {})["instrument"] == {"ID30": public, "BM29": public}
    assert facets(readers["admin"], {})["instrument"] == {"ID30": 28, "BM29": 28}
    # The participant adds an embargoed investigation on each; BM29's key its instrument's.
    assert facets(readers["participant"], {})["instrument"] == {"ID30": public + 4, "BM29": public + 4}
    assert facets(readers["API key"], {})["instrument"] == {"ID30": public, "BM29": 28}


def test_this_months_releases_come_from_the_tallies_the_earlier_from_the_rollups(world, readers):
    """A rollup off by 100 shows for every release before this month, not for this month's."""
    this_month = month_start(timezone.now()).date()
    assert DatasetRollup.objects.filter(release_month__lt=this_month).exists()
    DatasetRollup.objects.filter(release_month=this_month).update(datasets=F("datasets") + 100)
    anonymous = readers["anonymous"]
    assert facets(anonymous, {}) == counted(anonymous, {})
    DatasetRollup.objects.filter(release_month__lt=this_month, instrument__name="BM29").update(
        datasets=F("datasets") + 100
    )
    assert (
        facets(anonymous, {"instrument": "BM29"})["instrument"]["BM29"] > counted(anonymous, {})["instrument"]["BM29"]
    )


# --- The rollups follow every write --------------------------------------------------------------


def test_moving_release_dates_moves_the_rollups(world, readers, staff):
    now = timezone.now()
    this_month = month_start(now)
    moves = [
        ("ID30-next-year", this_month - timedelta(days=40)),  # released two months ago
        ("ID30-last-month", now + timedelta(days=30)),  # embargoed again
        ("BM29-years-ago", this_month),  # released this month
        ("BM29-last-instant-of-last-month", this_month - timedelta(days=1)),  # the same month
    ]
    for name, release_date in moves:
        investigation_release_date_change(
            investigation=world[name], release_date=release_date, actor=staff, reason="Test."
        )
        assert_exact(readers, world)
    # A save of the release date alone, of an investigation loaded with nothing else.
    partial = Investigation.objects.only("pk", "release_date").get(pk=world["BM29-next-year"].pk)
    partial.release_date = now - timedelta(days=400)
    partial.save(update_fields=["release_date"])
    assert_exact(readers, world)


def test_changing_the_instrument_moves_the_rollups(world, readers, instrument):
    moved = world["BM29-later-today"]
    moved.instrument = instrument
    moved.save()
    assert_exact(readers, world)
    # Both at once, through the admin's way of saving (the whole row).
    moved = Investigation.objects.get(pk=world["ID30-years-ago"].pk)
    moved.instrument_id, moved.release_date = world["BM29-next-year"].instrument_id, timezone.now()
    moved.save()
    assert_exact(readers, world)
    # Saving other fields moves nothing.
    moved.title = "Renamed"
    moved.save(update_fields=["title"])
    assert_exact(readers, world)


def test_moving_resizing_and_deleting_datasets_follow(world, readers):
    dataset = Dataset.objects.get(location="/data/ID30-next-year/a")
    dataset.investigation = world["BM29-last-month"]  # another instrument and month
    dataset.save()
    assert_exact(readers, world)
    dataset.size = 12_345
    dataset.save(update_fields=["size"])  # as file registration does
    assert_exact(readers, world)
    Dataset.objects.get(location="/data/ID30-years-ago/b").delete()
    Dataset.objects.filter(location__endswith="/d").delete()  # across investigations, as the admin's bulk action
    assert_exact(readers, world)
    gone = world["BM29-first-instant-of-this-month"]
    Dataset.objects.filter(investigation=gone).delete()
    gone.delete()
    del world["BM29-first-instant-of-this-month"]
    assert_exact(readers, world)


# --- Repair: recount_datasets and the migration --------------------------------------------------


def test_recount_finds_nothing_wrong_after_writes_and_fixes_a_corrupted_rollup(world, instrument, staff):
    investigation_release_date_change(
        investigation=world["ID30-next-year"], release_date=timezone.now(), actor=staff, reason="Test."
    )
    Dataset.objects.get(location="/data/BM29-years-ago/a").delete()
    moved = world["BM29-later-today"]
    moved.instrument = instrument
    moved.save()
    out = io.StringIO()
    call_command("recount_datasets", stdout=out)
    assert out.getvalue().endswith("; 0 tallies and 0 rollups were wrong and are fixed.\n")
    expected = rollup_counts()

    counting = DatasetRollup.objects.filter(datasets__gt=0).order_by("pk")
    DatasetRollup.objects.filter(pk=counting.first().pk).update(datasets=F("datasets") + 5)
    DatasetRollup.objects.filter(pk=counting.last().pk).delete()
    DatasetRollup.objects.create(instrument=instrument, release_month=date(1999, 1, 1), datasets=3)
    call_command("recount_datasets", stdout=out)
    assert out.getvalue().endswith("; 0 tallies and 3 rollups were wrong and are fixed.\n")
    assert rollup_counts() == expected == live_rollups()


@pytest.mark.django_db(transaction=True)
def test_the_migration_rolls_up_the_tallies_already_counted(world):
    expected = live_rollups()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("catalogue", "0012_datafile_partitions")])
        assert "catalogue_datasetrollup" not in connection.introspection.table_names()
        executor.loader.build_graph()
        executor.migrate([("catalogue", "0013_dataset_rollup")])
        assert rollup_counts() == expected
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


# --- What the facets read ------------------------------------------------------------------------


def test_the_facets_cost_does_not_grow_with_investigations(
    world, readers, instrument, raw_definition, django_assert_num_queries
):
    """Ten and then a hundred more investigations released in one earlier month add no rollup row
    beyond their definition and year; the facets stay one query for every reader."""
    release_date = month_start(timezone.now()) - timedelta(days=45)
    rollups = None
    for count in (10, 100):
        for i in range(count):
            investigation = released(instrument, f"MX-{count}-{i}", release_date)
            make_dataset(investigation, f"/data/many/{count}/{i}", definition=raw_definition, start_date=NEW_YEAR)
        if rollups is None:
            rollups = DatasetRollup.objects.count()
        assert DatasetRollup.objects.count() == rollups
        for role, actor in readers.items():
            with django_assert_num_queries(1):
                selectors.dataset_facets(actor)
            assert facets(actor, {}) == counted(actor, {}), role


# --- Concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestion_and_release_date_changes_lose_no_count(instrument, raw_definition, staff):
    """Six writers add datasets to an investigation while its release date moves back and forth
    across months: the rollups end exact."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    this_month = month_start(timezone.now())
    investigation = released(instrument, "MX-RACE", this_month - timedelta(days=40))
    writers, per_writer = 6, 8
    barrier = threading.Barrier(writers + 1)
    failures = []

    def write(i):
        try:
            barrier.wait()
            for k in range(per_writer):
                make_dataset(investigation, f"/data/race/{i}/{k}", definition=raw_definition, start_date=NEW_YEAR)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    def move():
        try:
            barrier.wait()
            for k in range(per_writer):
                release_date = this_month - timedelta(days=40) if k % 2 else this_month + timedelta(days=40)
                investigation_release_date_change(
                    investigation=investigation, release_date=release_date, actor=staff, reason="Race."
                )
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    threads.append(threading.Thread(target=move))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(n for n, _ in rollup_counts().values()) == writers * per_writer
    assert rollup_counts() == live_rollups()
    assert DatasetTally.objects.get(investigation=investigation).datasets == writers * per_writer
