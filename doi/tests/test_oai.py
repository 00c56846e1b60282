"""The OAI-PMH provider: a real harvester (sickle) harvests the whole endpoint of a live server
on loopback through several resumption tokens; every verb's answer is valid OAI-PMH 2.0 and each
record's metadata valid oai_dc or DataCite kernel 4.5; errors as the protocol defines them."""

import pytest
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import BadResumptionToken, CannotDisseminateFormat, IdDoesNotExist, NoRecordsMatch

from catalogue.access import Actor
from catalogue.tests.conftest import make_investigation, make_user
from doi import oai, services

from .schemas import datacite_schema, oai_datacite_schema, oai_dc_schema, oai_pmh_schema

OAI = "{http://www.openarchives.org/OAI/2.0/}"


def publish_sessions(instrument, count: int) -> list:
    admin = Actor(user=make_user("root-oai", is_staff=True))
    publications = []
    for i in range(count):
        investigation = make_investigation(instrument, f"MX-{100 + i}", "v1", released=True)
        publication = services.publication_create_session(actor=admin, investigation=investigation)
        publications.append(services.publication_publish(actor=admin, publication=publication))
    return publications


def validate(xml: bytes, prefix: str = "") -> etree._Element:
    root = etree.fromstring(xml)
    oai_pmh_schema().assertValid(root)
    for metadata in root.iter(f"{OAI}metadata"):
        element = metadata[0]
        if prefix == "oai_dc":
            oai_dc_schema().assertValid(element)
        else:
            oai_datacite_schema().assertValid(element)
            resource = element.find("{http://schema.datacite.org/oai/oai-1.0/}payload")[0]
            datacite_schema().assertValid(resource)
    return root


@pytest.mark.django_db(transaction=True)
def test_a_real_harvester_harvests_everything(live_server, instrument, monkeypatch, django_user_model):
    monkeypatch.setattr(oai, "PAGE_SIZE", 2)
    publications = publish_sessions(instrument, 5)
    admin = Actor(user=django_user_model.objects.get(username="root-oai"))
    services.publication_withdraw(actor=admin, publication=publications[0], reason="Mix-up")
    sickle = Sickle(f"{live_server.url}/oai", max_retries=0)
    assert sickle.Identify().repositoryName.endswith("data publications")
    for prefix in ("oai_dc", "oai_datacite"):
        records = list(sickle.ListRecords(metadataPrefix=prefix, ignore_deleted=False))
        dois = {r.header.identifier.rsplit(":", 1)[1] for r in records}
        assert dois == {p.doi for p in publications}
        deleted = [r for r in records if r.header.deleted]
        assert [r.header.identifier for r in deleted] == [oai.identifier(publications[0])]
    identifiers = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set=f"instrument:{instrument.name}"))
    assert len(identifiers) == 5
    record = sickle.GetRecord(identifier=oai.identifier(publications[1]), metadataPrefix="oai_dc")
    assert record.metadata["identifier"] == [f"https://doi.org/{publications[1].doi}"]
    assert {f.metadataPrefix for f in sickle.ListMetadataFormats()} == {"oai_dc", "oai_datacite"}
    assert f"instrument:{instrument.name}" in {s.setSpec for s in sickle.ListSets()}
    with pytest.raises(CannotDisseminateFormat):
        list(sickle.ListRecords(metadataPrefix="marc21"))
    with pytest.raises(IdDoesNotExist):
        sickle.GetRecord(identifier="oai:elsewhere:10.1/x", metadataPrefix="oai_dc")
    with pytest.raises(NoRecordsMatch):
        list(sickle.ListRecords(metadataPrefix="oai_dc", **{"from": "2999-01-01"}))
    with pytest.raises(BadResumptionToken):
        list(sickle.ListRecords(resumptionToken="forged"))


@pytest.mark.django_db
def test_every_verb_is_valid_xml(client, instrument, monkeypatch):
    monkeypatch.setattr(oai, "PAGE_SIZE", 2)
    publications = publish_sessions(instrument, 3)
    for query, prefix in [
        ({"verb": "Identify"}, ""),
        ({"verb": "ListMetadataFormats"}, ""),
        ({"verb": "ListSets"}, ""),
        ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}, ""),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc"}, "oai_dc"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_datacite"}, "oai_datacite"),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_datacite", "identifier": oai.identifier(publications[0])},
            "oai_datacite",
        ),
    ]:
        response = client.get("/oai", query)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
        root = validate(response.content, prefix)
        assert root.find(f"{OAI}error") is None, query
    post = client.post("/oai", {"verb": "Identify"})
    validate(post.content)


@pytest.mark.django_db
def test_resumption_is_stable_under_inserts(client, instrument, monkeypatch):
    monkeypatch.setattr(oai, "PAGE_SIZE", 2)
    first = publish_sessions(instrument, 3)
    page = validate(client.get("/oai", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}).content)
    token = page.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken").text
    services.publication_update(
        actor=Actor(user=make_user("root2", is_staff=True)), publication=first[0], title="Changed", abstract=""
    )
    rest = validate(client.get("/oai", {"verb": "ListIdentifiers", "resumptionToken": token}).content)
    seen = [h.text for h in page.iter(f"{OAI}identifier")] + [h.text for h in rest.iter(f"{OAI}identifier")]
    assert sorted(seen) == sorted(oai.identifier(p) for p in first)  # each once, none twice
    assert rest.find(f"{OAI}ListIdentifiers/{OAI}resumptionToken").text in (None, "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Explode"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01", "until": "2021-01-01T00:00:00Z"},
            "badArgument",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "colour:blue"}, "badArgument"),
        ({"verb": "Identify", "extra": "1"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc"}, "cannotDisseminateFormat"),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:x:1"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc"}, "noRecordsMatch"),
        ({"verb": "ListRecords", "resumptionToken": "x" * 5000}, "badResumptionToken"),
    ],
)
def test_errors(client, query, code):
    root = validate(client.get("/oai", query).content)
    assert root.find(f"{OAI}error").get("code") == code
    if code in ("badVerb", "badArgument"):
        assert root.find(f"{OAI}request").attrib == {}


@pytest.mark.django_db
def test_drafts_never_leave(client, instrument):
    investigation = make_investigation(instrument, "MX-9", "v1", released=True)
    services.publication_create_session(
        actor=Actor(user=make_user("root3", is_staff=True)), investigation=investigation
    )
    root = validate(client.get("/oai", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}).content)
    assert root.find(f"{OAI}error").get("code") == "noRecordsMatch"


@pytest.mark.django_db
def test_a_page_reads_each_publications_facts_as_the_landing_page_does(session_world, pi, instrument):
    """selectors.publications_facts (a page in a fixed number of queries) gives publication_facts of
    each publication, sessions and selections alike, and the sets each belongs to."""
    from catalogue.storage.selection import selection_add
    from doi.selectors import publication_facts, publications_facts

    admin = Actor(user=make_user("root-facts", is_staff=True))
    session = services.publication_create_session(actor=admin, investigation=session_world["investigation"])
    selection_add(user=pi, dataset_ids=[session_world["datasets"][1].pk])
    selection = services.publication_create_selection(actor=Actor(user=pi), title="One dataset")
    empty = services.publication_create_session(actor=admin, investigation=make_investigation(instrument, "MX-77"))
    publications = list(oai._harvested(oai.Publication.objects.filter(pk__in=[session.pk, selection.pk, empty.pk])))
    page = publications_facts(publications)
    for publication in publications:
        assert page[publication.pk].facts == publication_facts(publication), publication
    code = session_world["technique"].code
    for publication in (session, selection):
        assert oai._memberships(page[publication.pk]) == sorted([f"instrument:{instrument.name}", f"technique:{code}"])
    assert oai._memberships(page[empty.pk]) == [f"instrument:{instrument.name}"]


@pytest.mark.django_db
def test_a_page_costs_a_fixed_number_of_queries(client, instrument, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(oai, "PAGE_SIZE", 4)
    publish_sessions(instrument, 5)
    for verb in ("ListRecords", "ListIdentifiers"):
        # the page, its people, its datasets' totals, their techniques (benchmark_doi pins the same)
        with django_assert_num_queries(4):
            root = validate(client.get("/oai", {"verb": verb, "metadataPrefix": "oai_datacite"}).content)
        token = root.find(f"{OAI}{verb}/{OAI}resumptionToken").text
        with django_assert_num_queries(4):
            client.get("/oai", {"verb": verb, "resumptionToken": token})
