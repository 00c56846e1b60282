"""The DRF API: ingestion (POST /api/v1/datasets/), the read endpoints, their filters and costs."""

import gc
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalogue.models import Datafile, Dataset, ParameterValue
from catalogue.people.services import api_key_create, api_key_revoke
from catalogue.tallies import recount
from techniques.vocabulary import current_vocabulary

from .conftest import (
    DATASETS_URL,
    counts,
    key_client,
    make_dataset,
    make_investigation,
    make_sample,
    user_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(investigation, released_investigation, vocabulary, raw_definition, processed_definition):
    return investigation


def body(data_root, **fields) -> dict:
    """A valid storeDataset body for MX-1/v1."""
    values = {
        "proposal": "MX-1",
        "visit_id": "v1",
        "sample": "lysozyme",
        "name": "scan 1",
        "location": str(data_root / "scan1"),
        "definition": "TEST_raw",
        "parameters": {"TEST_energy": {"value": 12848, "unit": "eV"}, "TEST_detector": "EIGER2"},
    }
    values.update(fields)
    return values


# --- Ingestion --------------------------------------------------------------------------------


def test_store_creates_then_updates(world, instrument_client, data_root):
    first = instrument_client.post(DATASETS_URL, body(data_root), format="json")
    assert first.status_code == 201, first.json()
    created = first.json()
    assert created["name"] == "scan 1"
    assert created["location"] == str(data_root / "scan1")
    assert created["investigation"] == {"id": world.pk, "proposal": "MX-1", "visit_id": "v1"}
    assert created["sample"] == "lysozyme" and created["definition"] == "TEST_raw"
    assert created["parameters"] == {"TEST_energy": pytest.approx(12.848), "TEST_detector": "EIGER2"}
    assert created["complete"] is False

    second = instrument_client.post(DATASETS_URL, body(data_root, name="scan 1 again"), format="json")
    assert second.status_code == 200, second.json()
    assert second.json()["id"] == created["id"]
    assert second.json()["name"] == "scan 1 again"
    assert Dataset.objects.count() == 1


def test_a_bad_request_lists_every_bad_field_and_writes_nothing(world, instrument_client, data_root, tmp_path):
    before = counts()
    response = instrument_client.post(
        DATASETS_URL,
        body(
            data_root,
            location=str(tmp_path / "elsewhere"),
            proposal="MX-404",
            definition="TEST_nope",
            parameters={"MX_x": 1, "TEST_energy": "high", "TEST_detector": "EIGER2"},
            inputs=[str(data_root / "missing")],
        ),
        format="json",
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["detail"] == "The request is invalid; see errors by field."
    errors = answer["errors"]
    assert set(errors) == {"location", "investigation", "definition", "parameters", "inputs"}
    assert errors["parameters"] == {"MX_x": "not in the vocabulary", "TEST_energy": "expected a number, got 'high'"}
    assert errors["investigation"] == "no investigation MX-404 / v1"
    assert counts() == before


def test_a_badly_shaped_request_names_the_fields(world, instrument_client, data_root):
    response = instrument_client.post(
        DATASETS_URL,
        {
            "location": str(data_root / "x"),
            "kind": "cooked",
            "parameters": ["not", "a", "dict"],
            "inputs": [True, 1.5],
            "files": [{"path": "../etc/passwd", "size": -1}],
            "start_date": "yesterday",
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    # and, in the same pass, what the service finds: no proposal nor instrument names an investigation
    assert set(errors) == {"name", "kind", "parameters", "inputs", "files", "start_date", "investigation"}
    assert set(errors["files"]["0"]) == {"path", "size"}  # by index: the first file's fields
    assert set(errors["inputs"]) == {"0", "1"}
    assert Dataset.objects.count() == 0


def test_a_short_file_list_is_registered_with_the_dataset(
    world, instrument_client, data_root, django_capture_on_commit_callbacks
):
    files = [
        {"path": "img_0001.cbf", "size": 100, "checksum": "adler32:0a", "modified": "2024-03-01T10:00:00Z"},
        {"path": "img_0002.cbf", "size": 200},
        {"path": "./img_0002.cbf", "size": 250},  # the same file again: its last listing counts
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = instrument_client.post(DATASETS_URL, body(data_root, files=files), format="json")
    assert response.status_code == 201
    assert callbacks == []  # nothing for the worker
    answer = response.json()
    assert (answer["file_count"], answer["size"], answer["complete"]) == (2, 350, True)
    dataset = Dataset.objects.get(pk=answer["id"])
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 350, True)
    assert list(Datafile.objects.filter(dataset=dataset).order_by("path").values_list("path", "size", "checksum")) == [
        ("img_0001.cbf", 100, "adler32:0a"),
        ("img_0002.cbf", 250, ""),
    ]
    assert Datafile.objects.get(dataset=dataset, path="img_0001.cbf").modified == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert recount().wrong == 0  # the investigation's tallies hold the bytes

    # Stored again with another list: the files are upserted and counted again, still at once.
    again = [{"path": "img_0002.cbf", "size": 300}, {"path": "img_0003.cbf", "size": 1}]
    response = instrument_client.post(DATASETS_URL, body(data_root, files=again), format="json")
    assert response.status_code == 200
    assert (response.json()["file_count"], response.json()["size"], response.json()["complete"]) == (3, 401, True)
    assert recount().wrong == 0


def test_a_long_file_list_is_registered_on_commit_by_the_task(
    world, instrument_client, data_root, settings, django_capture_on_commit_callbacks
):
    settings.INGESTION_INLINE_FILES = 2
    files = [{"path": f"img_{i:04d}.cbf", "size": 100} for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = instrument_client.post(DATASETS_URL, body(data_root, files=files), format="json")
    assert response.status_code == 201
    assert (response.json()["file_count"], response.json()["complete"]) == (0, False)
    assert len(callbacks) == 1
    callbacks[0]()
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert (dataset.file_count, dataset.size, dataset.complete) == (3, 300, True)


def test_without_files_the_location_is_scanned(world, instrument_client, data_root, django_capture_on_commit_callbacks):
    folder = data_root / "scan1"
    folder.mkdir(parents=True)
    (folder / "master.h5").write_bytes(b"x" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        response = instrument_client.post(DATASETS_URL, body(data_root), format="json")
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert (dataset.file_count, dataset.size, dataset.complete) == (1, 64, True)


def test_files_of_every_accepted_shape_are_read_as_the_file_schema_says(
    world, instrument_client, data_root, django_capture_on_commit_callbacks
):
    """Plain files are checked by hand, the others by FileItemSerializer: both give the same rows."""
    files = [
        {"path": "a.cbf", "size": 1},
        {"path": " b.cbf ", "size": 2, "checksum": "md5:b", "modified": "2024-03-01T11:00:00+01:00"},
        {"path": "c.cbf", "modified": None, "unknown": "ignored"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = instrument_client.post(DATASETS_URL, body(data_root, files=files), format="json")
    assert response.status_code == 201, response.json()
    rows = Datafile.objects.filter(dataset_id=response.json()["id"]).values_list("path", "size", "checksum", "modified")
    assert [(path, size, checksum, modified and modified.isoformat()) for path, size, checksum, modified in rows] == [
        ("a.cbf", 1, "", None),
        ("b.cbf", 2, "md5:b", "2024-03-01T10:00:00+00:00"),
        ("c.cbf", 0, "", None),
    ]


def test_bad_files_are_named_by_index_after_good_ones(world, instrument_client, data_root):
    files = [{"path": "a.cbf", "size": 1}, {"path": "b.cbf", "size": -1}, {"size": 3}]
    response = instrument_client.post(DATASETS_URL, body(data_root, files=files), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "files": {
            "1": {"size": ["Ensure this value is greater than or equal to 0."]},
            "2": {"path": ["This field is required."]},
        }
    }
    assert Dataset.objects.count() == 0


def test_the_store_answer_is_the_dataset_as_read_afterwards(world, instrument_client, data_root):
    """The answer is built from what was stored, without reading it again."""
    raw = body(data_root, description="first", start_date="2024-03-01T10:00:00Z")
    processed = body(
        data_root,
        name="integrated",
        location=str(data_root / "proc1"),
        kind="processed",
        definition="TEST_processed",
        inputs=[raw["location"]],
    )
    for sent, status in [(raw, 201), (processed, 201), ({**raw, "description": "again"}, 200)]:
        response = instrument_client.post(DATASETS_URL, sent, format="json")
        assert response.status_code == status, response.json()
        answer = response.json()
        assert answer == instrument_client.get(f"{DATASETS_URL}{answer['id']}/").json()
    assert answer["outputs"] and answer["description"] == "again"  # the raw dataset, now with its output


def test_status_follows_registration(world, instrument_client, data_root, django_capture_on_commit_callbacks):
    folder = data_root / "scan1"
    folder.mkdir(parents=True)
    (folder / "a").write_bytes(b"x" * 5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # no file list: the worker scans
        response = instrument_client.post(DATASETS_URL, body(data_root), format="json")
    url = f"{DATASETS_URL}{response.json()['id']}/status/"
    pending = instrument_client.get(url)
    assert pending.status_code == 200
    assert pending.json() == {
        "id": response.json()["id"],
        "location": str(data_root / "scan1"),
        "complete": False,
        "file_count": 0,
        "size": 0,
        "storage_status": "online",
        "modified": pending.json()["modified"],
    }
    for callback in callbacks:
        callback()
    done = instrument_client.get(url).json()
    assert (done["complete"], done["file_count"], done["size"]) == (True, 1, 5)


def test_unauthenticated_store_is_refused(world, api_client, data_root):
    response = api_client.post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize("header", ["Api-Key", "Api-Key a b", "Api-Key nope.nope", "Api-Key {secret}x"])
def test_malformed_or_wrong_keys_are_refused(world, api_key, data_root, header, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=header.format(secret=api_key[1]))
    response = api_client.post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 401
    assert Dataset.objects.count() == 0


def test_a_revoked_key_is_refused(world, api_key, data_root):
    key, secret = api_key
    api_key_revoke(key=key)
    client = key_client(secret)
    response = client.post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown, expired or revoked API key."}
    assert client.get(DATASETS_URL).status_code == 401  # reading too
    assert Dataset.objects.count() == 0


def test_an_expired_key_is_refused(world, instrument, data_root):
    _key, secret = api_key_create(instrument=instrument, name="old", expires=timezone.now() - timedelta(minutes=1))
    response = key_client(secret).post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 401
    assert Dataset.objects.count() == 0


def test_a_participant_cannot_store(world, participant, data_root):
    response = user_client(participant).post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 403
    assert Dataset.objects.count() == 0


def test_staff_can_store_with_a_session(world, staff, data_root):
    response = user_client(staff).post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 201
    assert Dataset.objects.get().investigation == world


def test_a_scientist_can_store_on_their_instrument(world, scientist, data_root):
    response = user_client(scientist).post(DATASETS_URL, body(data_root), format="json")
    assert response.status_code == 201


def test_a_key_of_another_instrument_gets_the_missing_investigation_answer(world, other_api_key, data_root):
    client = key_client(other_api_key[1])
    hidden = client.post(DATASETS_URL, body(data_root), format="json")
    missing = client.post(DATASETS_URL, body(data_root, proposal="MX-1", visit_id="v404"), format="json")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["errors"] == {"investigation": "no investigation MX-1 / v1"}
    assert missing.json()["errors"] == {"investigation": "no investigation MX-1 / v404"}
    assert Dataset.objects.count() == 0


def test_inputs_by_location_and_id_link_processed_to_raw(world, instrument_client, data_root):
    raw1 = instrument_client.post(DATASETS_URL, body(data_root, location=str(data_root / "r1")), format="json").json()
    raw2 = instrument_client.post(DATASETS_URL, body(data_root, location=str(data_root / "r2")), format="json").json()
    response = instrument_client.post(
        DATASETS_URL,
        body(
            data_root,
            name="integration",
            location=str(data_root / "p1"),
            kind="processed",
            definition="TEST_processed",
            parameters={},
            inputs=[raw1["location"], raw2["id"]],
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert sorted(response.json()["inputs"]) == sorted([raw1["id"], raw2["id"]])
    detail = instrument_client.get(f"{DATASETS_URL}{raw1['id']}/").json()
    assert detail["outputs"] == [response.json()["id"]]
    assert ParameterValue.objects.filter(dataset_id=response.json()["id"]).count() == 0


# --- Read endpoints -------------------------------------------------------------------------


def test_instruments(api_client, instrument, other_instrument):
    response = api_client.get("/api/v1/instruments/")
    assert response.status_code == 200
    assert [i["name"] for i in response.json()["results"]] == ["BM29", "ID30"]
    detail = api_client.get(f"/api/v1/instruments/{instrument.pk}/").json()
    assert detail == {"id": instrument.pk, "name": "ID30", "full_name": "MX beamline", "description": ""}


def test_instruments_filter_by_name(api_client, instrument, other_instrument):
    results = api_client.get("/api/v1/instruments/", {"name": "ID30"}).json()["results"]
    assert [i["name"] for i in results] == ["ID30"]


def test_investigation_detail_has_totals(api_client, released_investigation, data_root):
    make_dataset(released_investigation, str(data_root / "a"), files=2)
    make_dataset(released_investigation, str(data_root / "b"), files=3)
    answer = api_client.get(f"/api/v1/investigations/{released_investigation.pk}/").json()
    assert answer["proposal"] == "MX-0" and answer["visit_id"] == "v1" and answer["instrument"] == "ID30"
    assert (answer["dataset_count"], answer["volume"]) == (2, 50)


def test_sample_detail(api_client, released_investigation, data_root):
    sample = make_sample(released_investigation, "lysozyme")
    make_dataset(released_investigation, str(data_root / "a"), sample=sample)
    answer = api_client.get(f"/api/v1/samples/{sample.pk}/").json()
    assert answer == {
        "id": sample.pk,
        "investigation": released_investigation.pk,
        "name": "lysozyme",
        "description": "",
        "parameters": {},
        "dataset_count": 1,
    }


def test_dataset_detail_has_parameters_inputs_and_outputs(api_client, released_investigation, data_root):
    raw = make_dataset(released_investigation, str(data_root / "raw"), parameters={"TEST_energy": 12.7})
    processed = make_dataset(released_investigation, str(data_root / "proc"), kind="processed")
    processed.inputs.add(raw)
    raw_answer = api_client.get(f"{DATASETS_URL}{raw.pk}/").json()
    assert raw_answer["parameters"] == {"TEST_energy": 12.7}
    assert (raw_answer["inputs"], raw_answer["outputs"]) == ([], [processed.pk])
    processed_answer = api_client.get(f"{DATASETS_URL}{processed.pk}/").json()
    assert (processed_answer["inputs"], processed_answer["outputs"]) == ([raw.pk], [])
    assert processed_answer["kind"] == "processed"


def test_datafiles_are_paginated(api_client, released_investigation, data_root):
    dataset = make_dataset(released_investigation, str(data_root / "big"), files=60)
    first = api_client.get("/api/v1/datafiles/", {"dataset": dataset.pk}).json()
    assert first["count"] == 60
    assert len(first["results"]) == 50
    assert first["results"][0] == {
        "id": first["results"][0]["id"],
        "dataset": dataset.pk,
        "path": "f000.h5",
        "size": 10,
        "checksum": "",
        "modified": None,
    }
    second = api_client.get(first["next"]).json()
    assert [f["path"] for f in second["results"]] == [f"f{i:03}.h5" for i in range(50, 60)]
    assert second["next"] is None


def test_datafiles_filter_by_path(api_client, released_investigation, data_root):
    dataset = make_dataset(released_investigation, str(data_root / "d"), files=12)
    results = api_client.get("/api/v1/datafiles/", {"dataset": dataset.pk, "path": "f01"}).json()["results"]
    assert [f["path"] for f in results] == ["f010.h5", "f011.h5"]


# --- Filters: one test each -------------------------------------------------------------------


@pytest.fixture
def two_of_each(released_investigation, other_instrument, vocabulary, raw_definition, processed_definition, data_root):
    """Two public investigations on two instruments, each dataset differing in one filtered field."""
    saxs = make_investigation(other_instrument, "SAXS-0", "v1", released=True, days_ago=1000)
    now = timezone.now()
    a = make_dataset(
        released_investigation,
        str(data_root / "a"),
        sample=make_sample(released_investigation, "lysozyme"),
        definition=raw_definition,
        start_date=now - timedelta(days=20),
    )
    b = make_dataset(
        saxs,
        str(data_root / "b"),
        sample=make_sample(saxs, "BSA"),
        kind="processed",
        definition=processed_definition,
        start_date=now - timedelta(days=5),
    )
    for dataset, resolution in ((a, 1.5), (b, 3.0)):
        ParameterValue.objects.create(
            dataset=dataset, parameter_type=vocabulary["TEST_resolution"], numeric_value=resolution
        )
        dataset.parameters = {"TEST_resolution": resolution}
        dataset.save()
    ParameterValue.objects.create(dataset=a, parameter_type=vocabulary["TEST_detector"], text_value="EIGER2")
    return {"a": a, "b": b, "now": now}


def dataset_names(client, **query) -> list[str]:
    response = client.get(DATASETS_URL, query)
    assert response.status_code == 200, response.json()
    return sorted(d["name"] for d in response.json()["results"])


def test_datasets_unfiltered(api_client, two_of_each):
    assert dataset_names(api_client) == ["a", "b"]


def test_datasets_filter_instrument(api_client, two_of_each):
    assert dataset_names(api_client, instrument="BM29") == ["b"]


def test_datasets_filter_investigation(api_client, two_of_each):
    assert dataset_names(api_client, investigation=two_of_each["a"].investigation_id) == ["a"]


def test_datasets_filter_sample(api_client, two_of_each):
    assert dataset_names(api_client, sample=two_of_each["b"].sample_id) == ["b"]


def test_datasets_filter_kind(api_client, two_of_each):
    assert dataset_names(api_client, kind="raw") == ["a"]


def test_datasets_filter_definition(api_client, two_of_each):
    assert dataset_names(api_client, definition="TEST_processed") == ["b"]


def test_datasets_filter_technique(api_client, two_of_each):
    assert dataset_names(api_client, technique="test-tech") == ["a", "b"]
    assert dataset_names(api_client, technique="nope") == []


def test_datasets_filter_start_after(api_client, two_of_each):
    assert dataset_names(api_client, start_after=(two_of_each["now"] - timedelta(days=10)).isoformat()) == ["b"]


def test_datasets_filter_start_before(api_client, two_of_each):
    assert dataset_names(api_client, start_before=(two_of_each["now"] - timedelta(days=10)).isoformat()) == ["a"]


def test_datasets_filter_name(api_client, two_of_each):
    assert dataset_names(api_client, q="B") == ["b"]


def test_datasets_filter_parameter_present(api_client, two_of_each):
    assert dataset_names(api_client, parameter="TEST_detector") == ["a"]


def test_datasets_filter_parameter_min(api_client, two_of_each):
    assert dataset_names(api_client, parameter="TEST_resolution", parameter_min=2) == ["b"]


def test_datasets_filter_parameter_max(api_client, two_of_each):
    assert dataset_names(api_client, parameter="TEST_resolution", parameter_max=2) == ["a"]


def test_datasets_filter_parameter_range(api_client, two_of_each):
    assert dataset_names(api_client, parameter="TEST_resolution", parameter_min=1.5, parameter_max=3) == ["a", "b"]
    assert dataset_names(api_client, parameter="TEST_resolution", parameter_min=1.6, parameter_max=2.9) == []


def test_datasets_filter_parameter_value(api_client, two_of_each):
    assert dataset_names(api_client, parameter="TEST_detector", parameter_value="EIGER2") == ["a"]
    assert dataset_names(api_client, parameter="TEST_detector", parameter_value="PILATUS") == []


def test_datasets_filter_unknown_parameter_is_a_400(api_client, two_of_each):
    response = api_client.get(DATASETS_URL, {"parameter": "MX_nope"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"parameter"}


def test_investigations_filter_instrument(api_client, two_of_each):
    results = api_client.get("/api/v1/investigations/", {"instrument": "BM29"}).json()["results"]
    assert [i["proposal"] for i in results] == ["SAXS-0"]


def test_investigations_filter_start_after_and_before(api_client, two_of_each):
    cut = (timezone.now() - timedelta(days=1500)).date().isoformat()
    after = api_client.get("/api/v1/investigations/", {"start_after": cut}).json()["results"]
    before = api_client.get("/api/v1/investigations/", {"start_before": cut}).json()["results"]
    assert [i["proposal"] for i in after] == ["SAXS-0"]
    assert [i["proposal"] for i in before] == ["MX-0"]


def test_investigations_filter_proposal_and_text(api_client, two_of_each):
    assert [
        i["proposal"] for i in api_client.get("/api/v1/investigations/", {"proposal": "MX-0"}).json()["results"]
    ] == ["MX-0"]
    assert [i["proposal"] for i in api_client.get("/api/v1/investigations/", {"q": "saxs"}).json()["results"]] == [
        "SAXS-0"
    ]


def test_samples_filter_investigation(api_client, two_of_each):
    investigation = two_of_each["b"].investigation_id
    results = api_client.get("/api/v1/samples/", {"investigation": investigation}).json()["results"]
    assert [s["name"] for s in results] == ["BSA"]


def test_samples_filter_name(api_client, two_of_each):
    results = api_client.get("/api/v1/samples/", {"name": "lyso"}).json()["results"]
    assert [s["name"] for s in results] == ["lysozyme"]


def test_datafiles_filter_dataset(api_client, released_investigation, data_root):
    a = make_dataset(released_investigation, str(data_root / "a"), files=2)
    make_dataset(released_investigation, str(data_root / "b"), files=3)
    results = api_client.get("/api/v1/datafiles/", {"dataset": a.pk}).json()["results"]
    assert {f["dataset"] for f in results} == {a.pk} and len(results) == 2


# --- Query counts: the same with 3 rows and with 30 -------------------------------------------
#
# anonymous: 1 COUNT (pagination) + 1 SELECT, + 1 of the page's links (inputs and outputs) for datasets.
# an API key adds 2: the key lookup and its last_used update.

LIST_QUERIES = {
    "/api/v1/instruments/": 2,
    "/api/v1/investigations/": 2,
    "/api/v1/samples/": 2,
    "/api/v1/datasets/": 3,
    "/api/v1/datafiles/": 2,
}


@pytest.fixture
def rows(request, instrument, other_instrument, data_root):
    """n public investigations on ID30, each with a sample, a raw and a processed dataset, 1 file each."""
    from catalogue.models import Instrument

    n = request.param
    for i in range(n):
        Instrument.objects.create(name=f"BL{i:02}")
        investigation = make_investigation(instrument, f"ROW-{i}", "v1", released=True, days_ago=1000 + i)
        sample = make_sample(investigation, f"sample {i}")
        raw = make_dataset(investigation, str(data_root / f"raw{i}"), sample=sample, files=1)
        processed = make_dataset(investigation, str(data_root / f"proc{i}"), sample=sample, kind="processed", files=1)
        processed.inputs.add(raw)
    return n


@pytest.mark.parametrize("rows", [3, 30], indirect=True)
@pytest.mark.parametrize("url", list(LIST_QUERIES))
def test_list_query_count_anonymous(api_client, rows, url, django_assert_num_queries):
    with django_assert_num_queries(LIST_QUERIES[url]):
        response = api_client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) >= rows


@pytest.mark.parametrize("rows", [3, 30], indirect=True)
@pytest.mark.parametrize("url", list(LIST_QUERIES))
def test_list_query_count_with_an_api_key(instrument_client, rows, url, django_assert_num_queries):
    with django_assert_num_queries(LIST_QUERIES[url] + 2):
        response = instrument_client.get(url)
    assert response.status_code == 200
    assert len(response.json()["results"]) >= rows


@pytest.mark.parametrize("rows", [3, 30], indirect=True)
def test_dataset_list_query_count_for_a_participant(participant, rows, django_assert_num_queries):
    """A person's visibility is EXISTS subqueries in the same SELECT, not a query per row."""
    client = user_client(participant)
    client.get("/api/v1/instruments/")  # warm the session
    with django_assert_num_queries(LIST_QUERIES["/api/v1/datasets/"] + 2):  # + session and user
        response = client.get(DATASETS_URL)
    assert response.json()["count"] == 2 * rows


# --- Serving ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_warmed_up_process_is_connected_before_its_first_request():
    """config.wsgi.warm_up: gunicorn runs it in each worker before the worker serves (config/gunicorn.py)."""
    from config.wsgi import warm_up

    connection.close()
    frozen = gc.get_freeze_count()
    try:
        warm_up()
        assert connection.connection is not None and connection.is_usable()
        assert gc.get_freeze_count() > frozen  # start-up's objects are out of the full collections
    finally:
        gc.unfreeze()


# --- Schema and docs -------------------------------------------------------------------------


def test_schema_is_an_openapi_document(api_client):
    response = api_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Research data catalogue API"
    assert "/api/v1/datasets/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/datasets/"]
    assert "/api/v1/datasets/{id}/status/" in schema["paths"]


def test_docs_render_without_cdn(api_client):
    response = api_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode().lower()
    script = api_client.get("/api/v1/docs/?script=").content.decode().lower()  # apart, for the CSP
    assert "swagger" in html
    assert "/api/v1/schema/" in script
    for host in ("cdn", "jsdelivr", "unpkg"):
        assert host not in html and host not in script


def test_store_query_count(world, instrument_client, data_root, django_assert_num_queries):
    """Pinned (benchmark item 1), in a process whose vocabulary is cached: the key (and its
    last_used, once a minute), the investigation, the vocabulary's version; then in one transaction
    (here a savepoint) the sample (created in a savepoint of get_or_create), the dataset's lock and
    insert with its tally, the parameter values in one statement. The answer is built from the
    stored dataset."""
    current_vocabulary()
    with django_assert_num_queries(STORE_QUERIES_NEW):
        assert instrument_client.post(DATASETS_URL, body(data_root), format="json").status_code == 201
    # No last_used and no new sample; the tally's lock, the DELETE of the parameters no longer
    # sent, the inputs replaced, and the links of the answer.
    with django_assert_num_queries(STORE_QUERIES_UPDATE):
        assert instrument_client.post(DATASETS_URL, body(data_root, name="again"), format="json").status_code == 200
    # A new dataset with a short file list, its sample known: the files in one INSERT more.
    files = [{"path": f"frame_{i:04d}.cbf", "size": 6_000_000} for i in range(100)]
    with django_assert_num_queries(STORE_QUERIES_NEW_WITH_FILES):
        response = instrument_client.post(
            DATASETS_URL, body(data_root, location=str(data_root / "scan2"), files=files), format="json"
        )
    assert response.status_code == 201 and response.json()["file_count"] == 100


# 20 and 16 before the vocabulary cache, the parameter values in one statement, the answer built
# from the stored dataset, last_used once a minute and no savepoint around the insert (2026-11-22).
# A short file list: registered by the worker before, in a transaction of its own (lock, COPY,
# upsert, count, update, tally), now one INSERT more (2026-11-22).
# A scan for the worker (as here without files): + the INSERT of its outbox row, PendingRegistration,
# so that a lost message loses nothing (2026-12-03); a short file list needs none.
# A new dataset's tally goes to its rollup too: + the investigation's locked read and the rollup's
# upsert (2026-12-07); storing again with the same tally changes neither.
STORE_QUERIES_NEW = 17
STORE_QUERIES_UPDATE = 14
STORE_QUERIES_NEW_WITH_FILES = 13
