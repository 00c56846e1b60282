"""The batch store (POST /api/v1/datasets/batch/): up to 500 datasets in one transaction, each with its
own answer, the new ones written together (issue 17, decision 1)."""

import json
import threading

import pytest
from django.db import connection, transaction

from catalogue.ingestion.client import CatalogueError, store_datasets
from catalogue.models import Dataset, ParameterValue, PendingRegistration, Sample
from catalogue.tallies import recount

from .conftest import DATASETS_URL, counts, key_client, make_dataset, tally_counts, user_client
from .test_api import body

pytestmark = pytest.mark.django_db

BATCH_URL = f"{DATASETS_URL}batch/"
JSON = "application/json"


@pytest.fixture
def world(investigation, released_investigation, vocabulary, raw_definition, processed_definition):
    return investigation


def post(client, data, **extra):
    """POST data as JSON text (json.dumps writes 400-digit integers and lone surrogates as sent)."""
    return client.post(BATCH_URL, data=json.dumps(data), content_type=JSON, **extra)


def items(data_root, count: int, prefix: str = "scan", **fields) -> list[dict]:
    return [
        body(data_root, name=f"{prefix} {i}", location=str(data_root / f"{prefix}{i:03d}"), **fields)
        for i in range(count)
    ]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:2000]
    answer = response.json()
    statuses = [item["status"] for item in answer["results"]]
    assert [item["index"] for item in answer["results"]] == list(range(len(statuses)))
    assert (answer["created"], answer["updated"], answer["refused"]) == (
        statuses.count(201),
        statuses.count(200),
        statuses.count(400),
    )
    return answer["results"]


# --- Per-item answers ------------------------------------------------------------------------------


def test_valid_items_are_stored_and_invalid_ones_answered_by_field(world, instrument_client, data_root, tmp_path):
    batch = items(data_root, 4)
    batch[1]["definition"] = "TEST_nope"
    batch[2]["parameters"] = {"MX_x": 1, "TEST_energy": "high"}
    batch[3]["kind"] = "cooked"  # a shape error, reported with the service's findings
    batch.insert(2, "not an object")
    batch.append(body(data_root, name="last", location=str(data_root / "last"), sample="other sample"))
    answer = results(post(instrument_client, {"datasets": batch}))

    assert [item["status"] for item in answer] == [201, 400, 400, 400, 400, 201]
    assert answer[1]["errors"] == {"definition": "unknown definition 'TEST_nope'"}
    assert set(answer[2]["errors"]) == {"non_field_errors"}
    assert set(answer[3]["errors"]["parameters"]) == {"MX_x", "TEST_energy"}
    assert set(answer[4]["errors"]) == {"kind"}
    for item in answer[1:5]:
        assert item["detail"] and "dataset" not in item
    stored = {item["dataset"]["location"]: item["dataset"] for item in answer if item["status"] == 201}
    assert set(stored) == {str(data_root / "scan000"), str(data_root / "last")}
    assert stored[str(data_root / "last")]["sample"] == "other sample"
    # The dataset as the single store answers it.
    single = instrument_client.post(DATASETS_URL, batch[0], format="json").json()
    assert {**stored[str(data_root / "scan000")], "modified": None} == {**single, "modified": None}
    assert set(Dataset.objects.values_list("location", flat=True)) == set(stored)


def test_the_same_batch_twice_creates_then_updates(world, instrument_client, data_root):
    batch = {"datasets": items(data_root, 5)}
    first = results(post(instrument_client, batch))
    assert {item["status"] for item in first} == {201}
    after_first = counts()
    second = results(post(instrument_client, batch))
    assert {item["status"] for item in second} == {200}
    assert [item["dataset"]["id"] for item in second] == [item["dataset"]["id"] for item in first]
    assert counts() == after_first  # no duplicates: datasets, parameters, samples, files
    assert Dataset.objects.count() == 5


def test_the_same_location_twice_in_one_batch_updates_the_first(world, instrument_client, data_root):
    batch = [body(data_root, name="first"), body(data_root, name="second")]
    answer = results(post(instrument_client, {"datasets": batch}))
    assert [item["status"] for item in answer] == [201, 200]
    assert answer[0]["dataset"]["id"] == answer[1]["dataset"]["id"]
    assert Dataset.objects.get().name == "second"


def test_an_item_may_take_an_earlier_item_as_input(world, instrument_client, data_root):
    raw = body(data_root)
    processed = body(
        data_root,
        name="processed",
        location=str(data_root / "processed"),
        kind="processed",
        definition="TEST_processed",
        parameters={},
        inputs=[raw["location"]],
    )
    answer = results(post(instrument_client, {"datasets": [raw, processed]}))
    assert [item["status"] for item in answer] == [201, 201]
    raw_id, processed_id = answer[0]["dataset"]["id"], answer[1]["dataset"]["id"]
    assert answer[1]["dataset"]["inputs"] == [raw_id]
    assert answer[0]["dataset"]["outputs"] == [processed_id]  # answered after the whole batch is stored


def test_an_item_refused_while_writing_leaves_nothing_of_its_own(
    world, released_investigation, instrument_client, data_root, django_capture_on_commit_callbacks
):
    """The location of another investigation's dataset is found out when the dataset is written,
    after its new sample: the item's savepoint takes the sample back; the others stay, and only
    their files' registrations are sent when the batch commits."""
    taken = make_dataset(released_investigation, str(data_root / "taken"))
    batch = items(data_root, 2, files=None)  # no file list: the worker scans the folders
    batch.insert(1, body(data_root, name="stolen", location=taken.location, sample="new sample", files=None))
    with django_capture_on_commit_callbacks() as callbacks:
        answer = results(post(instrument_client, {"datasets": batch}))
    assert [item["status"] for item in answer] == [201, 400, 201]
    assert set(answer[1]["errors"]) == {"location"}
    assert not Sample.objects.filter(name="new sample").exists()
    assert Dataset.objects.get(pk=taken.pk).name == taken.name
    queued = set(PendingRegistration.objects.values_list("dataset__location", flat=True))
    assert queued == {str(data_root / "scan000"), str(data_root / "scan001")}
    assert len(callbacks) == 2


# --- The whole request ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, field",
    [
        ([], "body"),
        ("datasets", "body"),
        ({"datasets": {"name": "x"}}, "datasets"),
        ({"datasets": None}, "datasets"),
        ({}, "datasets"),
    ],
)
def test_a_body_that_is_not_a_list_of_datasets_is_refused(world, instrument_client, data, field):
    response = post(instrument_client, data)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}


def test_more_than_500_datasets_are_refused_and_none_stored(world, instrument_client, data_root):
    response = post(instrument_client, {"datasets": items(data_root, 501)})
    assert response.status_code == 400
    assert "at most 500" in str(response.json()["errors"]["datasets"])
    assert Dataset.objects.count() == 0


def test_500_datasets_are_taken(world, instrument_client, data_root):
    answer = results(post(instrument_client, {"datasets": items(data_root, 500)}))
    assert len(answer) == 500 and Dataset.objects.count() == 500


def test_an_empty_batch_stores_nothing(world, instrument_client):
    assert results(post(instrument_client, {"datasets": []})) == []


def test_a_body_over_the_batch_limit_gets_a_json_413(world, instrument_client, data_root, settings):
    settings.INGESTION_BATCH_MAX_BODY_MB = 1
    files = [{"path": f"f{i:06}.cbf", "size": 1} for i in range(20_000)]
    response = post(instrument_client, {"datasets": items(data_root, 2, files=files)})  # ~1.3 MB
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert Dataset.objects.count() == 0


# --- Hostile items ------------------------------------------------------------------------------------


HOSTILE = {
    "a 400-digit integer": ({"parameters": {"TEST_energy": 10**400}}, ("parameters", "TEST_energy")),
    "a unit dividing by zero": (
        {"parameters": {"TEST_energy": {"value": 1, "unit": "1/0"}}},
        ("parameters", "TEST_energy"),
    ),
    "a location outside the folder": ({"location": "/tmp/elsewhere"}, ("location",)),
    "a location in another proposal's folder": ({"location": "../mx2/scan"}, ("location",)),
    "a file size past 64 bits": ({"files": [{"path": "a.cbf", "size": 2**63}]}, ("files",)),
    "a lone surrogate": ({"name": "\ud800"}, ("name",)),
    "a NUL character": ({"description": "a\x00b"}, ("description",)),
}


@pytest.mark.parametrize("fields, where", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_item_gets_its_own_400_naming_the_field(world, instrument_client, data_root, fields, where):
    if fields.get("location", "").startswith(".."):
        fields = {"location": str(data_root / fields["location"])}
    batch = [body(data_root, location=str(data_root / "before")), body(data_root, **fields)]
    batch.append(body(data_root, location=str(data_root / "after")))
    answer = results(post(instrument_client, {"datasets": batch}))
    assert [item["status"] for item in answer] == [201, 400, 201]
    errors = answer[1]["errors"]
    assert where[0] in errors, errors
    if len(where) > 1:
        assert where[1] in errors[where[0]], errors
    assert Dataset.objects.count() == 2


# --- Access ---------------------------------------------------------------------------------------


def test_access_is_the_single_stores(world, api_client, participant, scientist, staff, other_api_key, data_root):
    batch = {"datasets": [body(data_root)]}
    assert post(api_client, batch).status_code == 401
    assert post(user_client(participant), batch).status_code == 403
    refused = results(post(key_client(other_api_key[1]), batch))[0]
    assert refused["status"] == 400 and refused["errors"] == {"investigation": "no investigation MX-1 / v1"}
    assert results(post(user_client(scientist), batch))[0]["status"] == 201
    assert results(post(user_client(staff), batch))[0]["status"] == 200


# --- Cost -----------------------------------------------------------------------------------------


# Queries of a batch of new datasets (2 parameters, 2 files, an existing sample each): a constant per
# request, the API key's read (its last use is written at most once a while) and the batch's
# The key's lookup; inside the test's transaction, its SAVEPOINT and RELEASE; the investigation, the
# vocabulary's version check, which locations are stored, the SAVEPOINT of the new datasets' writes,
# their samples, their INSERT, their tallies (the investigations' release dates, then the tallies per
# investigation and per instrument and release month), their parameter values, their files (one COPY
# on PostgreSQL, one INSERT elsewhere), the RELEASE; then the answer: the stored datasets and their
# links. The same whatever the batch's length.
BATCH_QUERIES = 17


def test_new_datasets_are_written_in_a_fixed_number_of_queries(
    world, instrument_client, data_root, django_assert_num_queries
):
    files = [{"path": "a.cbf", "size": 1}, {"path": "b.cbf", "size": 2}]
    results(post(instrument_client, {"datasets": items(data_root, 1, "warm-up")}))  # the sample, the vocabulary
    with django_assert_num_queries(BATCH_QUERIES):
        results(post(instrument_client, {"datasets": items(data_root, 10, "ten", files=files)}))
    with django_assert_num_queries(BATCH_QUERIES):
        results(post(instrument_client, {"datasets": items(data_root, 20, "twenty", files=files)}))


def test_a_batch_writes_what_storing_each_on_its_own_writes(world, instrument_client, data_root, raw_definition):
    """Every column and row the set-based writes make, compared with those of the single store for
    the same bodies: samples (new, existing, shared), parameter values, inputs, files inline and
    queued, tallies."""
    earlier = make_dataset(world, str(data_root / "earlier"), definition=raw_definition)
    files = [
        {"path": "a.cbf", "size": 1, "checksum": "x"},
        {"path": "d/b.cbf", "size": 2, "modified": "2026-01-02T03:04:05Z"},
    ]

    def bodies(prefix: str) -> list[dict]:
        return [
            body(data_root, name=f"{prefix} 1", location=str(data_root / f"{prefix}1"), files=files),
            body(data_root, name=f"{prefix} 2", location=str(data_root / f"{prefix}2"), sample=f"{prefix} sample"),
            body(data_root, name=f"{prefix} 3", location=str(data_root / f"{prefix}3"), sample=f"{prefix} sample"),
            body(data_root, name=f"{prefix} 4", location=str(data_root / f"{prefix}4"), files=None, sample=""),
            body(
                data_root,
                name=f"{prefix} 5",
                location=str(data_root / f"{prefix}5"),
                kind="processed",
                definition="TEST_processed",
                parameters={},
                inputs=[earlier.location],
                start_date="2025-06-01T10:00:00Z",
            ),
        ]

    for item in bodies("one"):
        response = instrument_client.post(DATASETS_URL, item, format="json")
        assert response.status_code == 201, response.content[:2000]
    single_tallies = tally_counts()
    answer = results(post(instrument_client, {"datasets": bodies("many")}))
    assert [item["status"] for item in answer] == [201] * 5

    def stored(prefix: str) -> list[dict]:
        rows = []
        for dataset in Dataset.objects.filter(name__startswith=prefix).order_by("name"):
            rows.append(
                {
                    "name": dataset.name.split()[1],
                    "sample": dataset.sample and dataset.sample.name.replace(prefix, ""),
                    "columns": [
                        getattr(dataset, field)
                        for field in (
                            "kind",
                            "definition_id",
                            "start_date",
                            "end_date",
                            "description",
                            "parameters",
                            "warnings",
                            "file_count",
                            "size",
                            "complete",
                            "storage_status",
                            "investigation_id",
                        )
                    ],
                    "values": sorted(
                        ParameterValue.objects.filter(dataset=dataset).values_list(
                            "parameter_type_id", "numeric_value", "text_value"
                        )
                    ),
                    "files": sorted(dataset.datafiles.values_list("path", "size", "checksum", "modified")),
                    "inputs": list(dataset.inputs.values_list("pk", flat=True)),
                    "queued": list(PendingRegistration.objects.filter(dataset=dataset).values_list("files", flat=True)),
                }
            )
        return rows

    assert stored("many") == stored("one")
    assert Sample.objects.filter(name="many sample").count() == 1
    # Each tally counts the batch's datasets as it counted the single stores'.
    assert {key: n * 2 for key, n in single_tallies.items() if key[1] != earlier.definition_id} == {
        key: n for key, n in tally_counts().items() if key[1] != earlier.definition_id
    }
    assert recount().wrong == 0


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_location_stored_meanwhile_by_another_request_is_updated(world, instrument_client, data_root):
    """Another transaction inserts one of the batch's locations after the batch found it new: the
    batch's INSERT waits for it, fails on the location's uniqueness, and the batch stores its
    datasets one by one instead: that one as an update, the others as new; the tallies stay exact."""
    batch = items(data_root, 3)
    inserted, go_on = threading.Event(), threading.Event()

    def other_request():
        with transaction.atomic():
            make_dataset(world, batch[1]["location"], name="theirs")
            inserted.set()
            go_on.wait(10)
        connection.close()

    other = threading.Thread(target=other_request)
    other.start()
    inserted.wait(10)
    answer = {}

    def this_request():
        answer["results"] = results(post(instrument_client, {"datasets": batch}))
        connection.close()

    this = threading.Thread(target=this_request)
    this.start()
    this.join(1)  # waiting on the other's uncommitted location
    assert this.is_alive()
    go_on.set()
    other.join(10)
    this.join(30)
    assert [item["status"] for item in answer["results"]] == [201, 200, 201]
    assert Dataset.objects.get(location=batch[1]["location"]).name == batch[1]["name"]
    assert Dataset.objects.count() == 3
    assert recount().wrong == 0


# --- The Python client ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_client_stores_in_batches_and_answers_each_dataset(live_server, world, api_key, data_root):
    datasets = items(data_root, 5)
    datasets[3]["definition"] = "TEST_nope"
    answer = store_datasets(live_server.url, api_key[1], datasets, batch_size=2)  # 3 requests
    assert [result.index for result in answer] == list(range(5))
    assert [result.created for result in answer] == [True, True, True, False, True]
    refused = answer[3]
    assert refused.dataset is None and refused.error.status == 400
    assert refused.error.errors == {"definition": "unknown definition 'TEST_nope'"}
    assert "dataset 3" in str(refused.error) and "definition: unknown definition" in str(refused.error)
    assert answer[4].dataset["location"] == str(data_root / "scan004")
    again = store_datasets(live_server.url + "/api/v1/datasets/", api_key[1], datasets[:3])
    assert [(result.created, result.dataset["id"]) for result in again] == [
        (False, result.dataset["id"]) for result in answer[:3]
    ]
    assert Dataset.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_the_client_raises_on_a_refused_request(live_server, world, data_root):
    with pytest.raises(CatalogueError) as excinfo:
        store_datasets(live_server.url, "not-a-key", items(data_root, 1))
    assert excinfo.value.status == 401
    with pytest.raises(ValueError, match="batch_size"):
        store_datasets(live_server.url, "key", [], batch_size=501)
