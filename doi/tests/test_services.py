"""Publication services and the outbox, against DataCite's local stand-in (datacite_standin.py):
metadata valid against the kernel 4.5 schema before anything is sent, draft -> reserved ->
findable -> withdrawn (hidden), the session DOI published at the release date, a DataCite
outage that loses nothing and never blocks the portal, and a 422 recorded, not retried."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from catalogue.access import Actor
from catalogue.models import DataCollection
from catalogue.storage.selection import selection_add
from doi import datacite, services, tasks
from doi.models import Publication
from doi.selectors import publication_facts

pytestmark = pytest.mark.django_db


def record(publication):
    publication.refresh_from_db()
    return datacite.metadata(publication, publication_facts(publication), list(publication.people.all()))


def test_session_metadata_is_valid_kernel_45(session_world, pi_actor):
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    data = record(publication)
    assert datacite.validate(data) == []
    assert data["creators"][0]["familyName"] == "Lovelace"  # the PI first
    assert data["creators"][0]["nameIdentifiers"][0]["nameIdentifier"] == "https://orcid.org/0000-0002-1825-0097"
    assert data["subjects"][0]["subjectScheme"] == "PaNET" and data["subjects"][0]["valueUri"].endswith("PaNET01164")
    assert {c["contributorType"] for c in data["contributors"]} >= {
        "ContactPerson",
        "DataCollector",
        "HostingInstitution",
    }
    assert data["rightsList"][0]["rightsIdentifier"] == "cc-by-4.0"
    assert "4 files" not in data["sizes"] and "2 datasets" in data["sizes"]
    assert '<identifier identifierType="DOI">' in datacite.to_xml(data)


def test_invalid_metadata_is_named_and_nothing_is_sent(session_world, pi_actor, datacite_standin):
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    Publication.objects.filter(pk=publication.pk).update(related_identifiers=[{"relatedIdentifier": "x"}])
    with pytest.raises(ValidationError) as error:
        services.publication_reserve(actor=pi_actor, publication=publication)
    assert "relatedIdentifiers" in str(error.value)
    assert datacite_standin.requests == []
    assert Publication.objects.get(pk=publication.pk).state == "draft"


def test_lifecycle_through_the_standin(session_world, pi_actor, datacite_standin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
        services.publication_reserve(actor=pi_actor, publication=publication)
    publication.refresh_from_db()
    assert publication.doi.startswith("10.99999/")
    assert (publication.state, publication.datacite_state, publication.sync_pending) == ("reserved", "draft", False)
    assert datacite_standin.dois[publication.doi]["state"] == "draft"
    method, path, body = datacite_standin.requests[-1]
    assert (
        (method, path) == ("POST", "/dois")
        and body["data"]["type"] == "dois"
        and "event" not in body["data"]["attributes"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.publication_publish(actor=pi_actor, publication=publication)
    publication.refresh_from_db()
    assert (publication.state, publication.datacite_state) == ("findable", "findable")
    sent = datacite_standin.dois[publication.doi]
    assert sent["state"] == "findable" and sent["url"].endswith(publication.get_absolute_url())
    assert datacite_standin.requests[-1][:2] == ("PUT", f"/dois/{publication.doi}")

    admin = Actor(user=type(pi_actor.user).objects.create(username="root", is_staff=True))
    with django_capture_on_commit_callbacks(execute=True):
        services.publication_withdraw(actor=admin, publication=publication, reason="Wrong sample")
    publication.refresh_from_db()
    assert (publication.state, publication.datacite_state) == ("withdrawn", "registered")
    assert datacite_standin.dois[publication.doi]["state"] == "registered"  # hidden, never deleted


def test_outage_loses_nothing_and_never_blocks(
    session_world, pi_actor, datacite_standin, django_capture_on_commit_callbacks
):
    datacite_standin.outage = 503
    with django_capture_on_commit_callbacks(execute=True):
        publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
        services.publication_publish(actor=pi_actor, publication=publication)  # the portal goes on
    publication.refresh_from_db()
    assert publication.state == "findable" and publication.sync_pending and publication.datacite_state == ""
    assert "DataCiteServerError" in publication.sync_error
    # Down altogether: still pending.
    datacite_standin.stop()
    assert tasks.sync_publication.apply(args=[publication.pk]).get() == "pending"
    assert Publication.objects.get(pk=publication.pk).sync_pending
    # Back: the reconcile task sends it again.
    from .datacite_standin import DataCiteStandIn

    back = DataCiteStandIn(prefix=datacite_standin.prefix).start()
    try:
        from django.conf import settings

        settings.DATACITE_URL = back.url
        Publication.objects.filter(pk=publication.pk).update(sync_sent=timezone.now() - timedelta(hours=4))
        assert tasks.reconcile_publications.apply().get() == 1
        publication.refresh_from_db()
        assert (publication.sync_pending, publication.datacite_state) == (False, "findable")
        assert back.dois[publication.doi]["state"] == "findable"
    finally:
        back.stop()


def test_worker_retries_with_backoff_on_an_outage(session_world, pi_actor, datacite_standin, monkeypatch):
    datacite_standin.outage = 503
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    Publication.objects.filter(pk=publication.pk).update(state="findable", sync_pending=True)
    retries = []

    def retry(exc=None, countdown=None, **kwargs):
        retries.append(countdown)
        raise RuntimeError("retried")

    monkeypatch.setattr(tasks.sync_publication, "retry", retry)
    request = tasks.sync_publication.request
    monkeypatch.setattr(type(request), "is_eager", False, raising=False)
    with pytest.raises(RuntimeError, match="retried"):
        tasks.sync_publication.run(publication.pk)
    assert retries and 20 <= retries[0] <= 40
    assert Publication.objects.get(pk=publication.pk).sync_pending


def test_a_422_is_recorded_not_retried(
    session_world, pi_actor, datacite_standin, settings, django_capture_on_commit_callbacks
):
    settings.DATACITE_PREFIX = "10.12345"  # not the account's prefix: DataCite answers 422
    with django_capture_on_commit_callbacks(execute=True):
        publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
        services.publication_reserve(actor=pi_actor, publication=publication)
    publication.refresh_from_db()
    assert not publication.sync_pending and publication.datacite_state == ""
    assert "not in prefix" in publication.sync_error


def test_minting_off_sends_nothing(session_world, pi_actor, settings):
    settings.DATACITE_URL = ""
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    services.publication_publish(actor=pi_actor, publication=publication)
    publication.refresh_from_db()
    assert publication.doi.startswith("10.5072/") and publication.state == "findable" and not publication.sync_pending


def test_session_doi_published_at_release_date(
    session_world, investigation, datacite_standin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.publish_released_sessions.apply().get() == 1  # the released one; not the embargoed
    publication = Publication.objects.get(investigation=session_world["investigation"])
    assert (publication.state, publication.datacite_state) == ("findable", "findable")
    assert not Publication.objects.filter(investigation=investigation).exists()
    assert tasks.publish_released_sessions.apply().get() == 0  # idempotent


def test_only_the_pi_or_staff_mint(session_world, other_user, participant):
    for user in (other_user, participant):
        with pytest.raises(PermissionDenied):
            services.publication_create_session(actor=Actor(user=user), investigation=session_world["investigation"])
    assert not Publication.objects.exists()


def test_selection_doi_with_review(session_world, pi, settings, django_capture_on_commit_callbacks):
    settings.DOI_REVIEW = True
    actor = Actor(user=pi)
    selection_add(user=pi, dataset_ids=[session_world["datasets"][0].pk])
    publication = services.publication_create_selection(actor=actor, title="Lysozyme, 1.2 Å", abstract="A")
    assert publication.collection.kind == DataCollection.Kind.PUBLICATION
    assert list(publication.collection.datasets.all()) == [session_world["datasets"][0]]
    creators = list(publication.people.filter(role="creator"))
    services.publication_update(
        actor=actor,
        publication=publication,
        title="Lysozyme",
        abstract="B",
        creator_order=[c.pk for c in reversed(creators)],
        orcids={creators[0].pk: "0000-0001-5109-3700"},
        related_identifiers=[
            {"relatedIdentifier": "10.1000/paper", "relatedIdentifierType": "DOI", "relationType": "IsCitedBy"}
        ],
        funding=[{"funderName": "ERC", "awardNumber": "123"}],
    )
    services.publication_reserve(actor=actor, publication=publication)
    publication = services.publication_publish(actor=actor, publication=publication)
    assert publication.state == "review"
    data = record(publication)
    assert datacite.validate(data) == [] and data["fundingReferences"] == [{"funderName": "ERC", "awardNumber": "123"}]
    assert data["creators"][-1]["nameIdentifiers"][0]["nameIdentifier"].endswith("0000-0001-5109-3700")
    with pytest.raises(PermissionDenied):
        services.publication_approve(actor=actor, publication=publication)
    admin = Actor(user=type(pi).objects.create(username="root", is_staff=True))
    assert services.publication_approve(actor=admin, publication=publication).state == "findable"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("title", {"title": ""}),
        ("orcid", {"orcids": {0: "not-an-orcid"}}),
        ("related_identifiers", {"related_identifiers": [{"relationType": "IsCitedBy"}]}),
        ("funding", {"funding": ["ERC"]}),
        ("creator_order", {"creator_order": [987654]}),
    ],
)
def test_hostile_updates_name_the_field_and_write_nothing(session_world, pi_actor, field, kwargs):
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    if field == "orcid":
        kwargs = {"orcids": {publication.people.filter(role="creator").first().pk: "not-an-orcid"}}
    before = (publication.title, list(publication.people.values_list("position", "orcid")))
    with pytest.raises(ValidationError) as error:
        services.publication_update(
            actor=pi_actor, publication=publication, **({"title": "T", "abstract": ""} | kwargs)
        )
    assert field in error.value.message_dict
    publication.refresh_from_db()
    assert (publication.title, list(publication.people.values_list("position", "orcid"))) == before


def test_empty_selection_is_refused(pi):
    with pytest.raises(ValidationError) as error:
        services.publication_create_selection(actor=Actor(user=pi), title="T")
    assert "selection" in error.value.message_dict
