"""Facet counts (datasets per instrument, technique and start year) and the dataset tallies behind
them: exact after every write, under the access policy, in the portal and the API."""

import io
import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, ProtectedError
from django.urls import reverse

from catalogue.access import Actor
from catalogue.ingestion.services import dataset_store
from catalogue.models import Dataset, DatasetRollup, DatasetTally, Investigation
from techniques.models import DatasetDefinition, Technique

from .conftest import (
    DATASETS_URL,
    key_actor,
    live_counts,
    make_dataset,
    make_investigation,
    make_user,
    store_request,
    tally_counts,
    user_client,
)

pytestmark = pytest.mark.django_db

FACETS_URL = f"{DATASETS_URL}facets/"
# b starts on 31 December at 23:30 UTC: 2025 already in the facility's time zone (Europe/Paris).
NEW_YEAR = datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


@pytest.fixture
def saxs_definition(db) -> DatasetDefinition:
    technique = Technique.objects.create(code="saxs-tech", name="Test SAXS")
    return DatasetDefinition.objects.create(code="TEST_saxs", label="Test SAXS", kind="raw", technique=technique)


@pytest.fixture
def admin_actor(staff) -> Actor:
    return Actor(user=staff)


@pytest.fixture
def catalogue(
    investigation, released_investigation, other_investigation, raw_definition, saxs_definition, admin_actor, data_root
):
    """MX-1 (ID30, embargoed): a (TEST_raw, 2024), b (TEST_raw, 2025 in Paris), c (TEST_saxs, 2023),
    d (no definition, no start date); MX-0 (ID30, released): e (TEST_raw, 2020); SAXS-1 (BM29,
    embargoed): f (TEST_saxs, 2025). All stored through ingestion."""
    for name, proposal, definition, start in [
        ("a", "MX-1", "TEST_raw", datetime(2024, 6, 1, tzinfo=UTC)),
        ("b", "MX-1", "TEST_raw", NEW_YEAR),
        ("c", "MX-1", "TEST_saxs", datetime(2023, 3, 1, tzinfo=UTC)),
        ("d", "MX-1", "", None),
        ("e", "MX-0", "TEST_raw", datetime(2020, 5, 5, tzinfo=UTC)),
        ("f", "SAXS-1", "TEST_saxs", datetime(2025, 2, 2, tzinfo=UTC)),
    ]:
        request = store_request(
            data_root, name=name, location=name, proposal=proposal, definition=definition, start_date=start
        )
        dataset_store(actor=admin_actor, request=request)


def store(actor, data_root, name, **fields):
    proposal = Dataset.objects.get(name=name).investigation.name
    request = store_request(data_root, name=name, location=name, proposal=proposal, **fields)
    dataset_store(actor=actor, request=request)


def facets(client, **query) -> dict[str, dict]:
    response = client.get(FACETS_URL, query)
    assert response.status_code == 200, response.content
    return {facet: {row["value"]: row["count"] for row in rows} for facet, rows in response.json().items()}


# --- The tallies follow every write -------------------------------------------------------------


def test_ingestion_counts_each_new_dataset(catalogue, investigation, raw_definition):
    assert tally_counts() == live_counts()
    assert tally_counts()[(investigation.pk, raw_definition.pk, 2025)] == 1  # b, by the facility's calendar
    assert tally_counts()[(investigation.pk, None, None)] == 1  # d
    assert sum(tally_counts().values()) == 6


def test_storing_again_moves_a_dataset_whose_definition_or_year_changes(
    catalogue, investigation, admin_actor, data_root, raw_definition, saxs_definition
):
    before = tally_counts()
    store(admin_actor, data_root, "a", definition="TEST_raw", start_date=datetime(2024, 7, 1, tzinfo=UTC))
    assert tally_counts() == before  # same definition, same year
    store(admin_actor, data_root, "a", definition="TEST_saxs", start_date=datetime(2024, 7, 1, tzinfo=UTC))
    store(admin_actor, data_root, "c", definition="TEST_saxs", start_date=datetime(2022, 1, 1, tzinfo=UTC))
    store(admin_actor, data_root, "d", definition="TEST_raw", start_date=NEW_YEAR)
    assert tally_counts() == live_counts()
    assert (investigation.pk, raw_definition.pk, 2024) not in tally_counts()
    assert tally_counts()[(investigation.pk, saxs_definition.pk, 2024)] == 1
    assert tally_counts()[(investigation.pk, saxs_definition.pk, 2022)] == 1
    assert tally_counts()[(investigation.pk, raw_definition.pk, 2025)] == 2


def test_saves_through_the_orm_move_it_too(catalogue, released_investigation, other_investigation, raw_definition):
    """The admin's change form saves the model: a dataset moved to another investigation, one
    loaded with only some fields, one built by hand with the id of a stored one."""
    moved = Dataset.objects.get(name="f")
    moved.investigation, moved.definition = released_investigation, raw_definition
    moved.save()
    partial = Dataset.objects.only("pk", "name").get(name="e")
    partial.start_date = datetime(2019, 6, 1, tzinfo=UTC)
    partial.save()
    stored = Dataset.objects.get(name="d")
    rebuilt = Dataset(
        pk=stored.pk, investigation=other_investigation, name="d", location=stored.location, created=stored.created
    )
    rebuilt.save()
    assert tally_counts() == live_counts()
    assert tally_counts()[(other_investigation.pk, None, None)] == 1
    assert tally_counts()[(released_investigation.pk, raw_definition.pk, 2019)] == 1


@pytest.mark.django_db(transaction=True)
def test_a_save_outside_a_transaction_is_one_with_its_tally(investigation, raw_definition):
    """Model.save() alone is not atomic: the dataset's own wraps it, for the tally's locked read."""
    dataset = make_dataset(investigation, "/data/scan", start_date=NEW_YEAR)
    dataset.definition = raw_definition
    dataset.save()
    assert tally_counts() == live_counts() == {(investigation.pk, raw_definition.pk, 2025): 1}


def test_deletes_take_datasets_away(catalogue, investigation, released_investigation):
    Dataset.objects.get(name="a").delete()
    Dataset.objects.filter(name__in=["b", "f"]).delete()  # as the admin's bulk action does
    assert tally_counts() == live_counts()
    assert sum(tally_counts().values()) == 3


def test_an_investigation_takes_its_tallies_with_it(catalogue, released_investigation, investigation):
    with pytest.raises(ProtectedError):
        investigation.delete()  # its datasets first
    assert tally_counts() == live_counts()
    Dataset.objects.filter(investigation=released_investigation).delete()
    assert DatasetTally.objects.filter(investigation=released_investigation).exists()  # at 0
    Investigation.objects.filter(pk=released_investigation.pk).delete()
    assert not DatasetTally.objects.filter(investigation_id=released_investigation.pk).exists()
    assert tally_counts() == live_counts()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_location", [False, True], ids=["eight-datasets", "one-dataset"])
def test_concurrent_ingestions_lose_no_count(investigation, raw_definition, api_key, data_root, same_location):
    """Eight stores at once into one tally: eight new datasets count 8; one location stored eight
    times counts 1."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    callers = 8
    barrier = threading.Barrier(callers)
    failures = []

    def ingest(i):
        try:
            location = "scan" if same_location else f"scan{i}"
            request = store_request(
                data_root, name=f"scan {i}", location=location, definition="TEST_raw", start_date=NEW_YEAR
            )
            barrier.wait()
            dataset_store(actor=key_actor(api_key), request=request)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ingest, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert tally_counts() == {(investigation.pk, raw_definition.pk, 2025): 1 if same_location else callers}


# --- Repair: the backfill migration and recount_datasets ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_datasets_already_stored(catalogue):
    expected = live_counts()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("catalogue", "0003_dataset_by_investigation_definition")])
        assert "catalogue_datasettally" not in connection.introspection.table_names()
        executor.loader.build_graph()
        executor.migrate([("catalogue", "0004_dataset_tally")])
        assert tally_counts() == expected
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_recount_repairs_the_tallies(catalogue, investigation, released_investigation, raw_definition):
    expected = tally_counts()
    DatasetTally.objects.filter(investigation=investigation).update(datasets=F("datasets") + 2)
    DatasetTally.objects.filter(investigation=released_investigation).delete()
    make_dataset(investigation, "/elsewhere/g", definition=raw_definition)
    Dataset.objects.filter(name="g").update(start_date=NEW_YEAR)  # bypasses the tallies
    expected[(investigation.pk, raw_definition.pk, 2025)] += 1
    out = io.StringIO()
    call_command("recount_datasets", stdout=out)
    assert tally_counts() == expected == live_counts()
    # MX-1's 4 tallies were off by 2, MX-0's was missing, g was counted without its year
    # The rollups of MX-1's (ID30, embargoed) raw datasets of 2025 and of no year: g's.
    assert out.getvalue() == "6 tallies of 7 datasets, 6 rollups; 6 tallies and 2 rollups were wrong and are fixed.\n"
    call_command("recount_datasets", stdout=out)
    assert out.getvalue().endswith("; 0 tallies and 0 rollups were wrong and are fixed.\n")


# --- Facets: the access policy, the filters --------------------------------------------------------

ALL = {"instrument": {"ID30": 5, "BM29": 1}, "technique": {"test-tech": 3, "saxs-tech": 2, None: 1}}
ALL["year"] = {2025: 2, 2024: 1, 2023: 1, 2020: 1, None: 1}
ID30 = {
    "instrument": {"ID30": 5},
    "technique": {"test-tech": 3, "saxs-tech": 1, None: 1},
    "year": {2025: 1, 2024: 1, 2023: 1, 2020: 1, None: 1},
}
PUBLIC = {"instrument": {"ID30": 1}, "technique": {"test-tech": 1}, "year": {2020: 1}}
BM29_AND_PUBLIC = {
    "instrument": {"ID30": 1, "BM29": 1},
    "technique": {"test-tech": 1, "saxs-tech": 1},
    "year": {2025: 1, 2020: 1},
}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("anonymous", PUBLIC),
        ("other_user", PUBLIC),
        ("participant", ID30),  # of MX-1 and MX-0
        ("scientist", ID30),  # of ID30
        ("other_scientist", BM29_AND_PUBLIC),
        ("staff", ALL),
    ],
)
def test_facets_count_only_what_the_reader_may_see(request, catalogue, api_client, role, expected):
    if role != "anonymous":
        api_client.force_login(request.getfixturevalue(role))
    assert facets(api_client) == expected
    # The same through the fallback (a filter the tallies cannot answer, true of every dataset).
    assert facets(api_client, kind="raw") == expected


def test_facets_are_ordered_by_name_and_latest_year_first(catalogue, staff):
    body = user_client(staff).get(FACETS_URL).json()
    assert [row["value"] for row in body["instrument"]] == ["BM29", "ID30"]
    assert [row["value"] for row in body["technique"]] == ["saxs-tech", "test-tech", None]
    assert [row["value"] for row in body["year"]] == [2025, 2024, 2023, 2020, None]


@pytest.mark.parametrize(
    "query",
    [
        {"instrument": "BM29"},
        {"technique": "saxs-tech"},
        {"definition": "TEST_raw"},
        {"year": 2025},
        {"instrument": "ID30", "year": 2024},
        {"investigation": "MX-1"},  # replaced by its id
    ],
)
def test_filters_the_tallies_answer_agree_with_counting(catalogue, staff, query):
    client = user_client(staff)
    if "investigation" in query:
        query = {"investigation": Investigation.objects.get(name=query["investigation"]).pk}
    counted = facets(client, **query, kind="raw")  # kind: counted on the datasets
    assert facets(client, **query) == counted
    listed = client.get(DATASETS_URL, query).json()["count"]
    assert sum(counted["instrument"].values()) == listed > 0


def test_the_tallies_answer_their_filters_and_the_datasets_the_others(
    catalogue, staff, other_investigation, other_instrument
):
    """Which answers: a rollup off by 100 and a tally off by 1,000 each show in one answer only."""
    DatasetRollup.objects.filter(instrument=other_instrument).update(datasets=F("datasets") + 100)
    DatasetTally.objects.filter(investigation=other_investigation).update(datasets=F("datasets") + 1000)
    client = user_client(staff)
    assert facets(client, instrument="BM29")["instrument"] == {"BM29": 101}
    assert facets(client, investigation=other_investigation.pk)["instrument"] == {"BM29": 1001}
    assert facets(client, instrument="BM29", q="f")["instrument"] == {"BM29": 1}


def test_the_year_filter_and_facet_read_the_same_calendar(catalogue, staff):
    client = user_client(staff)
    names = sorted(d["name"] for d in client.get(DATASETS_URL, {"year": 2025}).json()["results"])
    assert names == ["b", "f"]
    assert facets(client, year=2024)["year"] == {2024: 1}


def test_a_parameter_range_is_counted_on_the_matching_datasets(catalogue, vocabulary, admin_actor, data_root):
    for name, start, resolution in [("a", datetime(2024, 6, 1, tzinfo=UTC), 1.5), ("b", NEW_YEAR, 3.0)]:
        store(
            admin_actor,
            data_root,
            name,
            definition="TEST_raw",
            start_date=start,
            parameters={"TEST_resolution": resolution},
        )
    client = user_client(admin_actor.user)
    assert facets(client, parameter="TEST_resolution", parameter_max=2) == {
        "instrument": {"ID30": 1},
        "technique": {"test-tech": 1},
        "year": {2024: 1},
    }


def test_invalid_filters_are_refused_like_the_list(catalogue, api_client):
    response = api_client.get(FACETS_URL, {"year": "last"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"year"}
    assert api_client.get(FACETS_URL, {"definition": "TEST_nope"}).status_code == 400


def test_the_schema_documents_the_facets(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/datasets/facets/"]["get"]
    assert {"instrument", "technique", "year", "parameter", "q"} <= {p["name"] for p in operation["parameters"]}
    assert "page" not in {p["name"] for p in operation["parameters"]}
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert response.endswith("/DatasetFacets")


@pytest.mark.parametrize("query", [{}, {"instrument": "ID30"}, {"q": "a"}], ids=["tallies", "filtered", "counted"])
def test_facets_query_count(catalogue, api_client, participant, query, django_assert_num_queries):
    """One query, anonymous or signed in (+ session and user), from the tallies or counted."""
    with django_assert_num_queries(1):
        api_client.get(FACETS_URL, query)
    api_client.force_login(participant)
    with django_assert_num_queries(3):
        api_client.get(FACETS_URL, query)


# --- The search page's facets ------------------------------------------------------------------


def sidebar(response) -> dict[str, list[tuple]]:
    return {
        facet["key"]: [(e["label"], e["count"], e["url"], e["active"]) for e in facet["entries"]]
        for facet in response.context["facets"]
    }


def test_search_page_facets_link_to_the_narrowed_search(client, catalogue, staff):
    client.force_login(staff)
    response = client.get(reverse("dataset-list"), {"definition": "TEST_saxs", "page": 1})
    assert sidebar(response) == {
        "instrument": [
            ("BM29", 1, "?definition=TEST_saxs&instrument=BM29", False),
            ("ID30", 1, "?definition=TEST_saxs&instrument=ID30", False),
        ],  # fmt: skip
        "technique": [("Test SAXS", 2, "?definition=TEST_saxs&technique=saxs-tech", False)],
        "year": [
            (2025, 1, "?definition=TEST_saxs&year=2025", False),
            (2023, 1, "?definition=TEST_saxs&year=2023", False),
        ],  # fmt: skip
    }
    assert 'href="?definition=TEST_saxs&amp;year=2025"' in response.content.decode()

    narrowed = client.get(reverse("dataset-list") + "?definition=TEST_saxs&year=2025")
    assert [d.name for d in narrowed.context["page_obj"]] == ["f"]
    assert sidebar(narrowed)["year"] == [(2025, 1, "?definition=TEST_saxs", True)]  # the way back
    assert 'name="year" value="2025"' in narrowed.content.decode()  # kept when the form is sent again


def test_values_no_filter_selects_have_no_link(client, catalogue, staff):
    client.force_login(staff)
    facets = sidebar(client.get(reverse("dataset-list")))
    assert facets["technique"][-1] == ("No definition", 1, None, False)
    assert facets["year"][-1] == ("No start date", 1, None, False)


def test_search_page_facets_for_anonymous_visitors(client, catalogue):
    assert sidebar(client.get(reverse("dataset-list"))) == {
        "instrument": [("ID30", 1, "?instrument=ID30", False)],
        "technique": [("Test technique", 1, "?technique=test-tech", False)],
        "year": [(2020, 1, "?year=2020", False)],
    }


def test_an_invalid_search_shows_no_facets(client, catalogue):
    response = client.get(reverse("dataset-list"), {"year": "last"})
    assert response.context["facets"] == []
    assert "dataset-facets" not in response.content.decode()


@pytest.mark.parametrize("query", [{}, {"instrument": "ID30"}, {"q": "e"}], ids=["tallies", "filtered", "counted"])
def test_search_page_query_count(client, catalogue, query, django_assert_num_queries):
    # vocabulary, instruments, techniques, definition choices; COUNT, page; facets
    with django_assert_num_queries(7):
        client.get(reverse("dataset-list"), query)


# --- A bigger catalogue than the fixture's -------------------------------------------------------


def test_tallies_of_many_investigations(instrument, raw_definition, data_root, staff):
    """Datasets written directly (not through ingestion) count too."""
    investigations = [make_investigation(instrument, f"MX-{10 + i}", "v1", released=i % 2) for i in range(4)]
    for i, inv in enumerate(investigations):
        for k in range(i + 1):
            make_dataset(inv, f"/data/{i}/{k}", definition=raw_definition, start_date=NEW_YEAR)
    assert tally_counts() == live_counts()
    assert facets(user_client(make_user("reader")))["instrument"] == {"ID30": 2 + 4}  # the released ones
    assert facets(user_client(staff))["year"] == {2025: 10}


def _sizes() -> tuple[dict, dict]:
    """Bytes per investigation: from the tallies, and from the datasets."""
    tallied, live = {}, {}
    for tally in DatasetTally.objects.all():
        tallied[tally.investigation_id] = tallied.get(tally.investigation_id, 0) + tally.size
    for dataset in Dataset.objects.all():
        live[dataset.investigation_id] = live.get(dataset.investigation_id, 0) + dataset.size
    return tallied, live


def test_the_tallies_follow_the_registered_bytes_and_give_the_totals(
    catalogue, investigation, released_investigation, api_client
):
    from catalogue.ingestion.registration import datafiles_register

    a, e = Dataset.objects.get(name="a"), Dataset.objects.get(name="e")
    datafiles_register(dataset_id=a.pk, files=[{"path": "x.h5", "size": 1000}, {"path": "y.h5", "size": 24}])
    datafiles_register(dataset_id=e.pk, files=[{"path": "z.h5", "size": 7}])
    datafiles_register(dataset_id=a.pk, files=[{"path": "x.h5", "size": 2000}])  # registered again, bigger
    tallied, live = _sizes()
    assert tallied == live and live[investigation.pk] == 2024 and live[released_investigation.pk] == 7
    answer = api_client.get(f"/api/v1/investigations/{released_investigation.pk}/").json()
    assert (answer["dataset_count"], answer["volume"]) == (1, 7)
    a.definition, a.start_date = None, None  # moves to another tally with its bytes
    a.save()
    Dataset.objects.get(name="b").delete()
    assert _sizes()[0] == _sizes()[1]
    e.delete()
    assert _sizes()[0][released_investigation.pk] == 0
    out = io.StringIO()
    call_command("recount_datasets", stdout=out)
    assert "0 tallies and 0 rollups were wrong" in out.getvalue()
