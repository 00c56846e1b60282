"""The batch of events (POST /api/v1/logbook/events/batch/): an instrument key's events, up to
LOGBOOK_BATCH_MAX_EVENTS a request, each checked on its own and answered at its index; the valid ones
written together in one transaction, a refused one not at all. On both databases."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from catalogue.models import Instrument
from catalogue.people.services import api_key_create
from catalogue.tests.conftest import key_client, make_dataset, make_investigation, user_client
from logbook.models import Event, Tag

pytestmark = pytest.mark.django_db

URL = "/api/v1/logbook/events/batch/"
SINGLE_URL = "/api/v1/logbook/events/"


def post(client, data, url=URL):
    return client.post(url, data=json.dumps(data), content_type="application/json")


def event(text="energy set to 12.7 keV", **fields) -> dict:
    return {"type": "notification", "category": "info", "content": [{"format": "plainText", "text": text}], **fields}


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:2000]
    answer = response.json()
    statuses = [item["status"] for item in answer["results"]]
    assert [item["index"] for item in answer["results"]] == list(range(len(statuses)))
    assert (answer["created"], answer["refused"]) == (statuses.count(201), statuses.count(400))
    return answer["results"]


def test_a_valid_batch_is_stored_in_order(investigation, instrument_client):
    batch = [event(f"line {i}", machine="bliss-id30", software="bliss") for i in range(120)]
    answer = results(post(instrument_client, {"events": batch}))
    assert [item["status"] for item in answer] == [201] * 120
    events = {e.pk: e for e in Event.objects.all()}
    assert [events[item["id"]].text for item in answer] == [f"line {i}" for i in range(120)]
    first = events[answer[0]["id"]]
    assert first.investigation_id == investigation.pk and first.instrument_id is None  # the last one started
    assert (first.type, first.category, first.machine) == ("notification", "info", "bliss-id30")
    assert first.software == "bliss"
    assert first.author is None and first.is_latest and first.created is not None
    assert [item["id"] for item in answer] == sorted(item["id"] for item in answer)  # ids in the batch's order


def test_the_batch_costs_the_same_queries_whatever_its_size(
    investigation, instrument_client, django_assert_num_queries
):
    post(instrument_client, {"events": [event(tag=[{"name": "warm"}])]})  # the tag exists afterwards
    for size in (1, 50):
        batch = [event(f"e{i}", tag=[{"name": "warm"}, {"name": f"new{size}"}]) for i in range(size)]
        # the key, its instrument, the investigation running (none: then the last one started), the
        # transaction's savepoint, the events' INSERT, the tags read, the new tag's INSERT and its read
        # back, the links' INSERT, the savepoint's release
        with django_assert_num_queries(11):
            answer = results(post(instrument_client, {"events": batch}))
        assert [item["status"] for item in answer] == [201] * size


def test_mixed_valid_and_invalid_events_are_answered_by_field(investigation, instrument_client, data_root):
    make_dataset(investigation, str(data_root / "scan1"), name="scan1")
    batch = [
        event("ok 1", datasetName="scan1"),
        event("bad category", category="gossip"),
        "not an object",
        event("", content=[]),  # nothing to show
        event("unknown dataset", datasetName="nope"),
        event("ok 2", tag=[{"name": "beam"}]),
        event("no such investigation", investigationId=987654321),
        event("x" * 10, title="t" * 300),
        event("bad tag", tag=[{"name": "  "}]),
    ]
    answer = results(post(instrument_client, {"events": batch}))
    assert [item["status"] for item in answer] == [201, 400, 400, 400, 400, 201, 400, 400, 400]
    errors = [set(item.get("errors", {})) for item in answer]
    assert errors == [
        set(), {"category"}, {"non_field_errors"}, {"content"}, {"datasetName"}, set(), {"investigationId"},
        {"title"}, {"tag"},
    ]  # fmt: skip
    assert all(item["detail"] for item in answer if item["status"] == 400)
    assert set(Event.objects.values_list("text", flat=True)) == {"ok 1", "ok 2"}  # nothing of the refused ones
    assert Event.objects.get(text="ok 1").dataset.name == "scan1"
    assert list(Tag.objects.values_list("name", flat=True)) == ["beam"]  # the refused event's tag is not made


def test_a_dataset_by_id_must_be_of_the_events_investigation(
    investigation, released_investigation, instrument_client, data_root
):
    own = make_dataset(investigation, str(data_root / "own"), name="own")
    other = make_dataset(released_investigation, str(data_root / "other"), name="other")
    batch = [event("a", datasetId=own.pk), event("b", datasetId=other.pk), event("c", datasetId=987654321)]
    answer = results(post(instrument_client, {"events": batch}))
    assert [item["status"] for item in answer] == [201, 400, 400]
    assert answer[1]["errors"] == {"datasetId": "no such dataset in this logbook's investigation"}
    assert Event.objects.get().dataset == own


def test_each_event_goes_to_its_own_logbook(investigation, released_investigation, instrument, instrument_client):
    batch = [
        event("running"),
        event("named", investigationName="mx0"),  # ESRF's spelling of MX-0
        event("by id", investigationId=released_investigation.pk),
        event("beamline", beamlineOnly=True),
        event("running again"),
    ]
    answer = results(post(instrument_client, {"events": batch}))
    assert [item["status"] for item in answer] == [201] * 5
    where = {e.text: (e.investigation_id, e.instrument_id) for e in Event.objects.all()}
    assert where == {
        "running": (investigation.pk, None),
        "named": (released_investigation.pk, None),
        "by id": (released_investigation.pk, None),
        "beamline": (None, instrument.pk),
        "running again": (investigation.pk, None),
    }


def test_no_investigation_running(db):
    idle = Instrument.objects.create(name="ID99", full_name="Idle beamline")
    later = make_investigation(idle, "MX-9", "v1", days_ago=-30)  # starts in a month
    assert later.start_date > timezone.now()
    client = key_client(api_key_create(instrument=idle, name="idle")[1])
    answer = results(post(client, {"events": [event("anyone?"), event("beamline", beamlineOnly=True)]}))
    assert answer[0]["status"] == 400 and set(answer[0]["errors"]) == {"investigationId"}
    assert "no investigation running" in answer[0]["errors"]["investigationId"]
    assert answer[1]["status"] == 201
    assert list(Event.objects.values_list("text", flat=True)) == ["beamline"]


def test_tags_are_the_logbooks_own_or_global_and_made_once(investigation, instrument_client):
    shared = Tag.objects.create(name="shared", color="#123456")
    own = Tag.objects.create(name="beam", investigation=investigation, color="#654321")
    batch = [
        event("a", tag=[{"name": "beam"}, {"name": "shared"}, {"name": "fresh"}]),
        event("b", tag=[{"name": "fresh"}, {"name": " fresh "}]),
        event("c", tag=[{"name": "beam"}], beamlineOnly=True),  # the beamline's own "beam", not the investigation's
    ]
    results(post(instrument_client, {"events": batch}))
    tags = {e.text: sorted((t.name, t.pk) for t in e.tags.all()) for e in Event.objects.prefetch_related("tags")}
    fresh = Tag.objects.get(name="fresh")
    assert fresh.investigation == investigation
    assert tags["a"] == sorted([("beam", own.pk), ("shared", shared.pk), ("fresh", fresh.pk)])
    assert tags["b"] == [("fresh", fresh.pk)]
    beamline_beam = Tag.objects.get(name="beam", instrument__isnull=False)
    assert tags["c"] == [("beam", beamline_beam.pk)] and beamline_beam.investigation is None
    assert Tag.objects.count() == 4


def test_html_is_sanitised(investigation, instrument_client):
    html = '<p onclick="x()">ok<script>alert(1)</script><a href="javascript:alert(1)">l</a></p>'
    batch = [event(content=[{"format": "html", "text": html}, {"format": "plainText", "text": "<b>plain</b>"}])]
    [item] = results(post(instrument_client, {"events": batch}))
    stored = Event.objects.get(pk=item["id"])
    assert stored.html.startswith("<p>ok") and "script" not in stored.html and "onclick" not in stored.html
    assert "javascript" not in stored.html and stored.text == "<b>plain</b>"


def test_the_batch_is_searchable_and_shown(investigation, instrument_client, participant, client):
    results(post(instrument_client, {"events": [event("detector timeout on frame 12")]}))
    client.force_login(participant)
    page = client.get(f"/investigations/{investigation.pk}/logbook/", {"q": "timeout"}).content.decode()
    assert "detector timeout on frame 12" in page


def test_too_many_events_or_not_a_list(investigation, instrument_client, settings):
    settings.LOGBOOK_BATCH_MAX_EVENTS = 3
    response = post(instrument_client, {"events": [event()] * 4})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"events"} and "at most 3" in response.json()["errors"]["events"]
    for body in ({"events": "x"}, {"events": {"a": 1}}, {}):
        response = post(instrument_client, body)
        assert response.status_code == 400 and set(response.json()["errors"]) == {"events"}
    response = post(instrument_client, [event()])
    assert response.status_code == 400 and set(response.json()["errors"]) == {"body"}
    assert results(post(instrument_client, {"events": []})) == []
    assert not Event.objects.exists()


def test_the_body_limit(investigation, instrument_client, settings):
    settings.LOGBOOK_BATCH_MAX_BODY_MB = 1
    response = post(instrument_client, {"events": [event("x" * 600_000), event("y" * 600_000)]})
    assert response.status_code == 413 and not Event.objects.exists()
    settings.LOGBOOK_BATCH_MAX_BODY_MB = 2
    assert results(post(instrument_client, {"events": [event("x" * 600_000), event("y" * 600_000)]}))


def test_only_an_instruments_key(investigation, participant, scientist, api_client):
    for client in (api_client, user_client(participant), user_client(scientist)):
        assert post(client, {"events": [event()]}).status_code == 401
    bad = key_client("nope.nope")
    assert post(bad, {"events": [event()]}).status_code == 401
    assert not Event.objects.exists()


def test_another_instruments_key_cannot_write_here(investigation, other_api_key):
    client = key_client(other_api_key[1])
    [item] = results(post(client, {"events": [event(investigationId=investigation.pk)]}))
    assert item["status"] == 400 and set(item["errors"]) == {"investigationId"}
    assert not Event.objects.exists()


def test_the_creation_date_is_kept(investigation, instrument_client):
    when = timezone.now() - timedelta(hours=3)
    [item] = results(post(instrument_client, {"events": [event(creationDate=when.isoformat())]}))
    assert Event.objects.get(pk=item["id"]).creation_date == when
