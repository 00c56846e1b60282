"""The landing page, its exports (links and content negotiation on the landing URL), the
schema.org JSON-LD a dataset search engine needs, the tombstone, and the minting pages."""

import json
import re

import pytest
from django.utils import timezone
from lxml import etree

from catalogue.access import Actor
from catalogue.models import Dataset
from catalogue.storage.selection import selection_add
from doi import services
from doi.models import Publication

from .schemas import datacite_schema

pytestmark = pytest.mark.django_db

ACCEPT = {
    "application/vnd.datacite.datacite+json": '"schemaVersion"',
    "application/vnd.datacite.datacite+xml": "<resource",
    "application/ld+json": '"@type": "Dataset"',
    "application/x-bibtex": "@misc{",
    "application/x-research-info-systems": "TY  - DATA",
    "application/vnd.citationstyles.csl+json": '"type": "dataset"',
    "text/x-bibliography": "Lovelace, Ada",
}


@pytest.fixture
def published(session_world, pi_actor):
    publication = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    services.publication_update(
        actor=pi_actor, publication=publication, title="Lysozyme & friends", abstract="High-resolution <data>."
    )
    return services.publication_publish(actor=pi_actor, publication=publication)


def jsonld_of(page: str) -> dict:
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_landing_page(client, published, session_world):
    response = client.get(published.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200 and response["Vary"].find("Accept") >= 0
    assert "Lysozyme &amp; friends" in page and "High-resolution &lt;data&gt;." in page
    assert 'href="https://orcid.org/0000-0002-1825-0097"' in page
    assert "PaNET01164" in page and "ID30" in page and "Creative Commons Attribution 4.0" in page
    assert f"https://doi.org/{published.doi}" in page and "Lovelace, Ada" in page  # cite as
    for dataset in session_world["datasets"]:
        assert f"/datasets/{dataset.pk}/download/" in page
    for name in ("bibtex", "ris", "csl", "citation", "datacite-json", "datacite-xml", "jsonld"):
        assert f"/export/{name}/" in page


def test_jsonld_has_what_dataset_search_needs(client, published):
    document = jsonld_of(client.get(published.get_absolute_url()).content.decode())
    for required in ("name", "description"):
        assert document[required]
    for recommended in ("identifier", "creator", "license", "datePublished", "publisher", "keywords",
                        "measurementTechnique", "includedInDataCatalog", "distribution", "url"):  # fmt: skip
        assert document[recommended], recommended
    assert document["creator"][0]["sameAs"] == "https://orcid.org/0000-0002-1825-0097"
    assert document["distribution"][0]["@type"] == "DataDownload"
    assert document["measurementTechnique"][0]["url"].endswith("PaNET01164")


@pytest.mark.parametrize("media_type", list(ACCEPT))
def test_content_negotiation_and_download_links(client, published, media_type):
    response = client.get(published.get_absolute_url(), headers={"accept": f"{media_type}, text/html;q=0.5"})
    assert response.status_code == 200 and response["Content-Type"].startswith(media_type)
    assert ACCEPT[media_type] in response.content.decode()
    name = next(n for n, e in __import__("doi.formats").formats.FORMATS.items() if e.media_type == media_type)
    download = client.get(published.get_absolute_url() + f"export/{name}/")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert download.content == response.content or media_type == "application/ld+json"


def test_datacite_xml_is_valid(client, published):
    xml = client.get(published.get_absolute_url() + "export/datacite-xml/").content
    datacite_schema().assertValid(etree.fromstring(xml))


def test_html_is_preferred_for_browsers(client, published):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get(published.get_absolute_url(), headers={"accept": accept})["Content-Type"].startswith("text/html")


def test_embargoed_and_archived_datasets(client, published, session_world, participant):
    first, second = session_world["datasets"]
    Dataset.objects.filter(pk=first.pk).update(storage_status="archived")
    investigation = session_world["investigation"]
    page = client.get(published.get_absolute_url()).content.decode()
    assert "sign in to restore" in page
    client.force_login(session_world["pi"])
    page = client.get(published.get_absolute_url()).content.decode()
    assert 'action="/storage/restore/"' in page and f'name="dataset" value="{first.pk}"' in page
    type(investigation).objects.filter(pk=investigation.pk).update(
        release_date=timezone.now() + timezone.timedelta(days=30)
    )
    client.logout()
    page = client.get(published.get_absolute_url()).content.decode()
    assert "under embargo until" in page and second.name not in page and "/download/" not in page


def test_withdrawn_keeps_a_tombstone(client, published, django_user_model):
    admin = Actor(user=django_user_model.objects.create(username="root", is_staff=True))
    services.publication_withdraw(actor=admin, publication=published, reason="Sample mix-up")
    response = client.get(published.get_absolute_url())
    assert (
        response.status_code == 200
        and "withdrawn" in response.content.decode()
        and "Sample mix-up" in response.content.decode()
    )
    assert client.get(published.get_absolute_url() + "export/bibtex/").status_code == 410


def test_drafts_are_hidden_and_unknown_formats_404(client, session_world, pi_actor):
    draft = services.publication_create_session(actor=pi_actor, investigation=session_world["investigation"])
    assert client.get(draft.get_absolute_url()).status_code == 404
    client.force_login(session_world["pi"])
    assert client.get(draft.get_absolute_url()).status_code == 200
    assert client.get(draft.get_absolute_url() + "export/pdf/").status_code == 404
    assert client.get(draft.get_absolute_url().lower()).status_code == 200  # DOIs are case-insensitive


def test_mint_from_the_selection_and_manage(client, session_world):
    pi = session_world["pi"]
    client.force_login(pi)
    assert client.post("/doi/mint/selection/", {"title": ""}).status_code == 400
    selection_add(user=pi, dataset_ids=[session_world["datasets"][0].pk])
    response = client.post("/doi/mint/selection/", {"title": "My lysozyme", "abstract": "Two crystals"})
    publication = Publication.objects.get(kind="selection")
    assert response.status_code == 302 and response["Location"] == f"/doi/manage/{publication.pk}/"
    creators = list(publication.people.filter(role="creator"))
    bad = client.post(f"/doi/manage/{publication.pk}/", {"action": "save", "title": "T", "funding": "{not json"})
    assert bad.status_code == 400 and "funding" in bad.content.decode()
    ok = client.post(
        f"/doi/manage/{publication.pk}/",
        {
            "action": "save",
            "title": "T2",
            "abstract": "",
            f"position-{creators[0].pk}": "1",
            "related_identifiers": "[]",
            "funding": "[]",
        },
    )
    assert ok.status_code == 302
    assert client.post(f"/doi/manage/{publication.pk}/", {"action": "reserve"}).status_code == 302
    assert Publication.objects.get(pk=publication.pk).state == "reserved"
    assert publication.doi in client.get("/doi/").content.decode()
    assert client.post(f"/doi/manage/{publication.pk}/", {"action": "explode"}).status_code == 400


def test_mint_session_from_my_dois(client, session_world):
    client.force_login(session_world["pi"])
    page = client.get("/doi/").content.decode()
    investigation = session_world["investigation"]
    assert f"/doi/mint/investigation/{investigation.pk}/" in page
    response = client.post(f"/doi/mint/investigation/{investigation.pk}/")
    assert response.status_code == 302 and Publication.objects.filter(investigation=investigation).exists()
