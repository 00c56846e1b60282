"""GET /api/v1/datasets/ built from .values() rows and written by orjson (catalogue.api.listing, issue 17
decision 3): the same answer as DRF's DatasetSerializer gives for the same rows, for datasets of every
kind, as an admin, a participant, an instrument key and anonymously; its query counts, pinned."""

import json
from datetime import UTC, datetime

import pytest
from rest_framework import mixins
from rest_framework.serializers import ModelSerializer

from catalogue.api.serializers import DatasetSerializer
from catalogue.api.views import DatasetViewSet
from catalogue.models import Dataset

from .conftest import DATASETS_URL, key_client, make_dataset, make_investigation, make_sample, make_user, user_client

pytestmark = pytest.mark.django_db

PARAMETERS = {
    "TEST_energy": {"value": 12.848, "unit": "keV"},
    "TEST_resolution": 1.5,
    "TEST_count": 3,
    "TEST_big": 123456789012345678901234567890,  # past 64 bits: orjson could not write it as a value
    "TEST_small": 1e-05,
    "TEST_detector": "EIGER2 – Å “quoted” \\ / \t",
    "TEST_flag": True,
    "TEST_none": None,
    "TEST_list": [1, 2.5, "x", {"deep": [None, False]}],
}


@pytest.fixture
def catalogue(
    instrument, other_instrument, investigation, released_investigation, data_root, raw_definition, processed_definition
):
    """Datasets of every kind: released and embargoed, raw and processed with visible and hidden
    inputs and outputs, with and without sample, definition, dates, parameters and warnings."""
    sample = make_sample(released_investigation)
    raw = make_dataset(
        released_investigation,
        str(data_root / "raw"),
        sample=sample,
        definition=raw_definition,
        description="Raw frames\nsecond line, ünïcode",
        start_date=datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC),  # summer time in Paris
        end_date=datetime(2026, 1, 1, 0, 0, tzinfo=UTC),  # winter time
        parameters=PARAMETERS,
        warnings=[{"field": "TEST_resolution", "value": 1.5, "rule": "maximum 1"}],
        files=3,
    )
    bare = make_dataset(released_investigation, str(data_root / "bare"))  # no sample, definition, dates
    old = make_dataset(
        released_investigation,
        str(data_root / "old"),
        start_date=datetime(1890, 7, 1, 12, 30, 15, tzinfo=UTC),  # Paris mean time: +00:09:21
        storage_status=Dataset.StorageStatus.ARCHIVED,
    )
    embargoed_raw = make_dataset(investigation, str(data_root / "embargoed-raw"), definition=raw_definition, files=1)
    processed = make_dataset(
        investigation,
        str(data_root / "processed"),
        kind="processed",
        definition=processed_definition,
        start_date=datetime(2026, 7, 2, 8, 0, tzinfo=UTC),
        parameters={"TEST_resolution": 1.9},
    )
    processed.inputs.add(raw, embargoed_raw)
    elsewhere = make_investigation(other_instrument, "SAXS-1", "v2")  # embargoed, the participant's not in it
    hidden = make_dataset(elsewhere, str(data_root / "hidden"), kind="processed", definition=processed_definition)
    hidden.inputs.add(raw, processed)
    return {"raw": raw, "bare": bare, "old": old, "processed": processed, "hidden": hidden}


@pytest.fixture
def clients(catalogue, participant, api_key):
    from rest_framework.test import APIClient

    return {
        "admin": user_client(make_user("admin", is_staff=True)),
        "participant": user_client(participant),
        "key": key_client(api_key[1]),
        "anonymous": APIClient(),
    }


def serializer_answer(monkeypatch, client, url) -> tuple:
    """The answer of the list as it was: DRF's ListModelMixin.list with DatasetSerializer, fields
    written by DRF's own walk (ModelSerializer.to_representation), rendered by DRF's JSONRenderer."""
    with monkeypatch.context() as patch:
        patch.setattr(DatasetViewSet, "list", mixins.ListModelMixin.list)
        patch.setattr(DatasetSerializer, "to_representation", ModelSerializer.to_representation)
        response = client.get(url)
    return response


@pytest.mark.parametrize("who", ["admin", "participant", "key", "anonymous"])
@pytest.mark.parametrize("time_zone", ["Europe/Paris", "UTC"])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?page=2",
        "?page=3",
        "?kind=processed",
        "?q=raw&definition=TEST_raw",
        "?parameter=TEST_resolution&parameter_max=2",  # no parameter values written: an empty page
        "?kind=bogus",  # 400 from both
        "?page=9",  # 404 from both
    ],
)
def test_the_list_answers_what_the_serializer_gives(monkeypatch, settings, clients, vocabulary, who, time_zone, query):
    settings.TIME_ZONE = time_zone
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}
    settings.COUNT_CAP = 4  # the admin's 6 datasets are past it: count_exact false
    client, url = clients[who], DATASETS_URL + query
    expected = serializer_answer(monkeypatch, client, url)
    response = client.get(url)
    assert response.status_code == expected.status_code
    assert response["Content-Type"] == expected["Content-Type"] == "application/json"
    assert response["Vary"] == expected["Vary"] and response["Allow"] == expected["Allow"]
    ours, theirs = json.loads(response.content), json.loads(expected.content)
    assert ours == theirs
    if response.status_code == 200:
        assert list(ours) == list(theirs) == ["count", "count_exact", "next", "previous", "results"]
        for row, their_row in zip(ours["results"], theirs["results"], strict=True):
            assert list(row) == list(their_row) == list(DatasetSerializer().fields)
            assert list(row["investigation"]) == list(their_row["investigation"])


def test_every_kind_is_compared(settings, clients):
    """The comparison above meets each shape: links visible and hidden, dates in summer, winter and
    local mean time, no sample, big integers."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 50}
    rows = {row["location"].rsplit("/", 1)[1]: row for row in clients["admin"].get(DATASETS_URL).json()["results"]}
    assert rows["raw"]["parameters"] == PARAMETERS
    assert rows["raw"]["start_date"] == "2026-07-01T14:30:15.123456+02:00"
    assert rows["raw"]["end_date"] == "2026-01-01T01:00:00+01:00"
    assert rows["old"]["start_date"] == "1890-07-01T12:39:36+00:09:21"
    assert rows["bare"]["sample"] is rows["bare"]["definition"] is rows["bare"]["start_date"] is None
    assert rows["raw"]["outputs"] == sorted([rows["processed"]["id"], rows["hidden"]["id"]])
    mine = {row["name"]: row for row in clients["participant"].get(DATASETS_URL).json()["results"]}
    assert "hidden" not in mine and mine["raw"]["outputs"] == [mine["processed"]["id"]]
    public = {row["name"]: row for row in clients["anonymous"].get(DATASETS_URL).json()["results"]}
    assert set(public) == {"raw", "bare", "old"} and public["raw"]["outputs"] == []


def test_the_browsable_api_shows_the_same_page(clients):
    response = clients["participant"].get(DATASETS_URL, {"format": "api"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert response.data == clients["participant"].get(DATASETS_URL).json()


# Queries of one list request: the count (capped), the page, the page's link pairs; + the visibility
# of the links that leave the page, for someone who is not an admin; + session and user for a
# person, + the key for an instrument key (its last_used is written once a minute, not here).
LIST_QUERIES = {"admin": 5, "participant": 6, "key": 5, "anonymous": 4}


@pytest.mark.parametrize("who", list(LIST_QUERIES))
def test_list_query_count(clients, who, django_assert_num_queries):
    clients[who].get(DATASETS_URL)  # warm: the session, the key's last_used
    with django_assert_num_queries(LIST_QUERIES[who]):
        assert clients[who].get(DATASETS_URL).status_code == 200
