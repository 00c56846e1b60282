"""The search across logbooks: the portal's page (GET /logbook/search/?q=) and the API's
(GET /api/v1/logbook/events/?q=), over every event the caller reads (selectors.readable_events), by
keyset pages. On both databases (PostgreSQL's full-text search, SQLite's substring)."""

import pytest
from django.urls import reverse

from catalogue.tests.conftest import key_client, user_client
from logbook import services

pytestmark = pytest.mark.django_db

API = "/api/v1/logbook/events/"


def note(investigation, text, **fields):
    return services.event_create(investigation=investigation, type="notification", category="info", text=text, **fields)


@pytest.fixture
def logbooks(investigation, released_investigation, other_investigation, instrument):
    """Each logbook has a "detector timeout" event; MX-1 a tagged one too."""
    return {
        "mine": note(investigation, "detector timeout on MX-1", tags=["detector"]),
        "released": note(released_investigation, "detector timeout on MX-0"),
        "other": note(other_investigation, "detector timeout on SAXS-1"),
        "beamline": services.event_create(
            instrument=instrument, type="notification", category="error", text="detector timeout on ID30"
        ),
        "broadcast": services.event_create(type="broadcast", category="info", text="detector timeout everywhere"),
        "unrelated": note(investigation, "sample mounted"),
    }


PLACES = {
    "MX-1": "timeout on MX-1",
    "MX-0": "timeout on MX-0",
    "SAXS-1": "timeout on SAXS-1",
    "ID30": "timeout on ID30",
    "everywhere": "timeout everywhere",
}


def shown(body: str) -> set[str]:
    return {place for place, text in PLACES.items() if text in body}


def test_the_page_finds_what_the_user_reads(client, logbooks, participant, scientist, other_user):
    url = reverse("logbook:search")
    client.force_login(participant)
    body = client.get(url, {"q": "timeout"}).content.decode()
    assert shown(body) == {"MX-1", "MX-0", "everywhere"} and "sample mounted" not in body
    mine = logbooks["mine"]
    # each hit links to its logbook, and to the logbook's page that starts with it
    assert f'href="/investigations/{mine.investigation_id}/logbook/?before={mine.pk + 1}#event-{mine.pk}"' in body
    assert 'data-color="' in body and ">detector</span>" in body  # its tag
    client.force_login(scientist)
    assert shown(client.get(url, {"q": "timeout"}).content.decode()) == {"MX-1", "MX-0", "ID30", "everywhere"}
    client.force_login(other_user)
    assert shown(client.get(url, {"q": "timeout"}).content.decode()) == {"everywhere"}


def test_the_page_without_words_asks_for_them(client, logbooks, participant):
    client.force_login(participant)
    response = client.get(reverse("logbook:search"))
    assert response.status_code == 200 and "detector timeout" not in response.content.decode()
    assert 'name="q"' in response.content.decode()


def test_the_page_is_for_people_signed_in(client, logbooks):
    response = client.get(reverse("logbook:search"), {"q": "timeout"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_keyset_pages_of_hits(client, investigation, participant):
    events = [note(investigation, f"scan {i:02} timeout") for i in range(60)]
    client.force_login(participant)
    url = reverse("logbook:search")
    first = client.get(url, {"q": "timeout"})
    body = first.content.decode()
    assert "scan 59 timeout" in body and "scan 10 timeout" in body and "scan 09 timeout" not in body
    assert first.context["before"] == events[10].pk and f"before={events[10].pk}" in body
    second = client.get(url, {"q": "timeout", "before": first.context["before"]}).content.decode()
    assert "scan 09 timeout" in second and "scan 00 timeout" in second and "scan 10 timeout" not in second
    assert "Newest" in second


def test_the_page_costs_the_same_queries_whatever_its_hits(
    client, investigation, participant, django_assert_num_queries
):
    for i in range(30):
        note(investigation, f"timeout {i}", tags=[f"t{i % 3}"])
    client.force_login(participant)
    url = reverse("logbook:search")
    client.get(url, {"q": "timeout"})
    # session, user, events (with their logbooks), their tags' names, the navbar's staff check
    with django_assert_num_queries(5):
        assert client.get(url, {"q": "timeout"}).status_code == 200


def test_the_users_menu_links_to_it(client, participant):
    client.force_login(participant)
    assert f'href="{reverse("logbook:search")}"' in client.get(reverse("home")).content.decode()


def test_the_api_searches_what_the_caller_reads(logbooks, participant, api_key, api_client):
    def found(client, **query):
        response = client.get(API, {"q": "timeout", **query})
        assert response.status_code == 200, response.content
        return {event["content"][0]["text"].rsplit(" ", 1)[-1] for event in response.json()["results"]}

    assert found(user_client(participant)) == {"MX-1", "MX-0", "everywhere"}
    assert found(key_client(api_key[1])) == {"MX-1", "MX-0", "ID30", "everywhere"}
    assert found(api_client) == {"everywhere"}  # anonymous: the broadcasts
    everything = user_client(participant).get(API).json()["results"]
    assert {e["content"][0]["text"] for e in everything} >= {"sample mounted", "detector timeout on MX-1"}
    answer = user_client(participant).get(API, {"q": "timeout"}).json()["results"]
    mine = next(e for e in answer if e["_id"] == str(logbooks["mine"].pk))
    assert mine["instrumentName"] == "ID30" and [tag["name"] for tag in mine["tag"]] == ["detector"]


def test_the_api_pages_by_keyset(investigation, participant):
    events = [note(investigation, f"scan {i:02} timeout") for i in range(55)]
    client = user_client(participant)
    first = client.get(API, {"q": "timeout"}).json()
    assert len(first["results"]) == 50 and first["before"] == events[5].pk
    second = client.get(API, {"q": "timeout", "before": first["before"]}).json()
    assert [e["_id"] for e in second["results"]] == [str(e.pk) for e in reversed(events[:5])]
    assert second["before"] is None


def test_the_api_refuses_bad_parameters(participant):
    client = user_client(participant)
    for query, field in (({"before": "x"}, "before"), ({"before": "0"}, "before"), ({"q": "x" * 201}, "q")):
        response = client.get(API, query)
        assert response.status_code == 400 and set(response.json()["errors"]) == {field}
