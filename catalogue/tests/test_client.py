"""The beamline client (catalogue.ingestion.client) and `manage.py store_dataset`, over real HTTP."""

from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from catalogue.ingestion.client import CatalogueError, datasets_url, store_dataset
from catalogue.management.commands.store_dataset import parse_file, parse_param
from catalogue.models import Datafile, Dataset

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(investigation, vocabulary, raw_definition, processed_definition):
    return investigation


@pytest.fixture
def secret(api_key) -> str:
    return api_key[1]


# --- Against a live server ------------------------------------------------------------------


@live
def test_store_creates_then_updates(live_server, world, secret, data_root):
    fields = {
        "proposal": "MX-1",
        "visit_id": "v1",
        "sample": "lysozyme",
        "name": "scan 1",
        "location": str(data_root / "scan1"),
        "definition": "TEST_raw",
        "parameters": {"TEST_energy": {"value": 12848, "unit": "eV"}},
        "files": [{"path": "img_0001.cbf", "size": 10}, {"path": "img_0002.cbf", "size": 20}],
    }
    first = store_dataset(live_server.url, secret, **fields)
    assert first.created is True
    assert first["location"] == str(data_root / "scan1")
    assert first["parameters"] == {"TEST_energy": pytest.approx(12.848)}
    dataset = Dataset.objects.get(pk=first["id"])
    assert (dataset.file_count, dataset.size, dataset.complete) == (2, 30, True)  # registered on commit

    second = store_dataset(live_server.url + "/api/v1/datasets/", secret, **{**fields, "name": "scan 1 bis"})
    assert second.created is False
    assert second["id"] == first["id"] and second["name"] == "scan 1 bis"
    assert Dataset.objects.count() == 1 and Datafile.objects.count() == 2


@live
def test_store_errors_carry_the_api_errors(live_server, world, secret, tmp_path):
    with pytest.raises(CatalogueError) as excinfo:
        store_dataset(
            live_server.url,
            secret,
            proposal="MX-1",
            visit_id="v1",
            name="scan",
            location=str(tmp_path / "outside"),
            parameters={"MX_x": 1, "TEST_energy": "high"},
        )
    error = excinfo.value
    assert error.status == 400
    assert error.detail == "The request is invalid; see errors by field."
    assert set(error.errors) == {"location", "parameters"}
    assert set(error.errors["parameters"]) == {"MX_x", "TEST_energy"}
    message = str(error)
    assert message.startswith("catalogue answered 400: The request is invalid")
    assert "  parameters.MX_x: not in the vocabulary" in message
    assert "  parameters.TEST_energy: expected a number, got 'high'" in message
    assert "  location: " in message
    assert Dataset.objects.count() == 0


@live
def test_store_with_a_bad_key(live_server, world, data_root):
    with pytest.raises(CatalogueError) as excinfo:
        store_dataset(live_server.url, "nope.nope", proposal="MX-1", name="s", location=str(data_root / "s"))
    assert excinfo.value.status == 401
    assert str(excinfo.value) == "catalogue answered 401: Unknown, expired or revoked API key."


@live
def test_command_stores_a_dataset(live_server, world, secret, data_root):
    raw = store_dataset(
        live_server.url,
        secret,
        proposal="MX-1",
        visit_id="v1",
        name="raw",
        location=str(data_root / "raw"),
        definition="TEST_raw",
    )
    out = StringIO()
    call_command(
        "store_dataset",
        "--url", live_server.url,
        "--key", secret,
        "--proposal", "MX-1",
        "--visit", "v1",
        "--sample", "lysozyme",
        "--name", "integration",
        "--location", str(data_root / "processed"),
        "--kind", "processed",
        "--definition", "TEST_processed",
        "--param", "TEST_energy=12848[eV]",
        "--param", "TEST_detector=EIGER2 X 16M",
        "--param", "TEST_count=3",
        "--input", str(data_root / "raw"),
        "--file", "ap/XDS_ASCII.HKL:1234",
        "--file", "ap/CORRECT.LP:66",
        stdout=out,
    )  # fmt: skip
    dataset = Dataset.objects.get(location=str(data_root / "processed"))
    assert out.getvalue().strip() == f"created dataset {dataset.pk} at {dataset.location}"
    assert dataset.parameters == {
        "TEST_energy": pytest.approx(12.848),
        "TEST_detector": "EIGER2 X 16M",
        "TEST_count": 3.0,
    }
    assert (dataset.kind, dataset.definition.code, dataset.sample.name) == ("processed", "TEST_processed", "lysozyme")
    assert [d.pk for d in dataset.inputs.all()] == [raw["id"]]
    assert (dataset.file_count, dataset.size) == (2, 1300)


@live
def test_command_reports_every_error(live_server, world, secret, data_root, monkeypatch):
    monkeypatch.setenv("CATALOGUE_API_KEY", secret)  # the key from the environment
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "store_dataset",
            "--url", live_server.url,
            "--key", secret,
            "--proposal", "MX-404",
            "--name", "scan",
            "--location", str(data_root / "scan"),
            "--param", "TEST_energy=12[mm]",
            "--input", "/nowhere",
        )  # fmt: skip
    message = str(excinfo.value)
    assert "catalogue answered 400" in message
    assert "investigation: no investigation MX-404" in message
    assert "parameters.TEST_energy: unit 'mm' cannot be converted to 'keV'" in message
    assert "inputs: no dataset at /nowhere" in message
    assert Dataset.objects.count() == 0


# --- Without a server -----------------------------------------------------------------------


def test_an_unreachable_catalogue_is_a_catalogue_error():
    with pytest.raises(CatalogueError) as excinfo:
        store_dataset("http://127.0.0.1:9", "k", retries=0, timeout=2, name="s", location="/data/s")
    assert excinfo.value.status is None
    assert str(excinfo.value).startswith("catalogue not reachable at http://127.0.0.1:9/api/v1/datasets/")


class FakeSession:
    """Answers POSTs from a list; records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def post(self, url, **kwargs):
        self.sent.append((url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code, response._content = answer
        response.reason = {503: "Service Unavailable"}.get(answer[0], "")
        return response


def test_retries_on_unavailable_and_connection_errors():
    session = FakeSession((503, b"busy"), requests.ConnectionError("reset"), (201, b'{"id": 7}'))
    stored = store_dataset("http://catalogue", "secret", session=session, backoff=0, name="s", location="/data/s")
    assert (stored, stored.created) == ({"id": 7}, True)
    assert len(session.sent) == 3
    url, kwargs = session.sent[0]
    assert url == "http://catalogue/api/v1/datasets/"
    assert kwargs["headers"]["Authorization"] == "Api-Key secret"
    assert kwargs["json"] == {"name": "s", "location": "/data/s"}


def test_gives_up_after_the_retries():
    session = FakeSession((503, b"busy"), (503, b"still busy"))
    with pytest.raises(CatalogueError) as excinfo:
        store_dataset("http://catalogue", "k", session=session, retries=1, backoff=0, name="s", location="/d")
    assert (excinfo.value.status, str(excinfo.value)) == (503, "catalogue answered 503: still busy")


def test_a_refusal_is_not_retried():
    session = FakeSession((403, b'{"detail": "Only instrument keys..."}'), (201, b"{}"))
    with pytest.raises(CatalogueError) as excinfo:
        store_dataset("http://catalogue", "k", session=session, backoff=0, name="s", location="/d")
    assert excinfo.value.status == 403 and excinfo.value.errors == {}
    assert len(session.sent) == 1


def test_dates_are_sent_as_iso_8601():
    from datetime import UTC, datetime

    session = FakeSession((200, b'{"id": 1}'))
    stored = store_dataset(
        "http://c/", "k", session=session, name="s", location="/d", start_date=datetime(2024, 3, 1, 10, tzinfo=UTC)
    )
    assert stored.created is False
    assert session.sent[0][1]["json"]["start_date"] == "2024-03-01T10:00:00+00:00"


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://data.example.org", "https://data.example.org/api/v1/datasets/"),
        ("https://data.example.org/", "https://data.example.org/api/v1/datasets/"),
        ("https://example.org/catalogue/", "https://example.org/catalogue/api/v1/datasets/"),
        ("https://data.example.org/api/v1/datasets", "https://data.example.org/api/v1/datasets/"),
    ],
)
def test_datasets_url(url, endpoint):
    assert datasets_url(url) == endpoint


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("E=12848[eV]", ("E", {"value": "12848", "unit": "eV"})),
        ("E=12848 [ eV ]", ("E", {"value": "12848", "unit": "eV"})),
        ("R=1.5[]", ("R", {"value": "1.5", "unit": ""})),
        ("InstrumentDetector_name=EIGER2 X 16M", ("InstrumentDetector_name", "EIGER2 X 16M")),
        ("Mode=7/8 multibunch", ("Mode", "7/8 multibunch")),
        ("Note=a=b", ("Note", "a=b")),
        ("Empty=", ("Empty", "")),
    ],
)
def test_parse_param(text, parsed):
    assert parse_param(text) == parsed


@pytest.mark.parametrize("text", ["=3", "no equals", "1x=3"])
def test_parse_param_refuses(text):
    with pytest.raises(CommandError, match="expected NAME=VALUE or NAME=VALUE\\[UNIT\\]"):
        parse_param(text)


def test_parse_file():
    assert parse_file("sub/a:b.cbf:120") == {"path": "sub/a:b.cbf", "size": 120}
    for bad in ("a.cbf", "a.cbf:", ":12", "a.cbf:-1", "a.cbf:1k"):
        with pytest.raises(CommandError, match="expected PATH:SIZE"):
            parse_file(bad)


def test_command_needs_a_key(monkeypatch):
    monkeypatch.delenv("CATALOGUE_API_KEY", raising=False)
    with pytest.raises(CommandError, match="give the API key"):
        call_command("store_dataset", "--url", "http://c", "--name", "n", "--location", "/d", "--key", "")
