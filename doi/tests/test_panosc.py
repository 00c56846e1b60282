"""The PaNOSC search API (doi/panosc/): the reference project's fixture queries (panosc-eu/search-api
test/*.test.js over data/db.json) ported to the catalogue, hostile filters, and open data only.

The fixture mirrors data/db.json: 15 ESS instruments; four released datasets (1 on LoKI, 2 on ODIN,
3 and 4 in one session on FREIA), each with its file panosc-fileN.hdf and the sample "solid copper
cylinder"; datasets 1-2 use small-angle neutron scattering (PaNET01189), 3-4 x-ray absorption
(PaNET01227); parameters Cu and solid on 1, photon_energy 930 eV on 2, temperature 20 celsius on 3,
wavelength 1064 nm on 4. Document 1 (a "publication": a selection DOI of datasets 1 and 2, PI John
Smith) and document 2 (a "proposal": the session DOI of datasets 3 and 4, PI James Chadwick).
Beside them, embargoed data that would match every query: it must never appear.
"""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalogue.access import Actor
from catalogue.models import DataCollection, Datafile, Instrument, InvestigationUser, ParameterValue
from catalogue.tests.conftest import make_dataset, make_investigation, make_sample, make_user, parameter_type
from doi import services
from doi.models import Publication
from doi.panosc import query as panosc_query
from techniques.models import DatasetDefinition, Technique

pytestmark = pytest.mark.django_db

ESS = ["LoKI", "DREAM", "MAGiC", "HEIMDAL", "NMX", "BEER", "ODIN", "ESTIA", "FREIA", "SKADI", "BIFROST", "CSPEC",
       "MIRACLES", "T-REX", "VESPA"]  # fmt: skip
PURL = "http://purl.org/pan-science/PaNET/"


@pytest.fixture
def db_json(settings, data_root):
    settings.FACILITY_NAME = "ESS"
    instruments = {name: Instrument.objects.create(name=name) for name in ESS}
    sans = Technique.objects.create(code="sans", name="small-angle neutron scattering", panet_id="PaNET01189")
    xas = Technique.objects.create(code="xas", name="x-ray absorption", panet_id="PaNET01227")
    definitions = {
        t.code: DatasetDefinition.objects.create(code=f"P_{t.code}", label=t.name, kind="raw", technique=t)
        for t in (sans, xas)
    }
    params = {
        "chemical_formula": parameter_type("chemical_formula", "string"),
        "sample_state": parameter_type("sample_state", "string"),
        "photon_energy": parameter_type("photon_energy", "numeric", "eV"),
        "temperature": parameter_type("temperature", "numeric", "celsius"),
        "wavelength": parameter_type("wavelength", "numeric", "nm"),
    }
    smith = make_user("smith", first_name="John", last_name="Smith")
    chadwick = make_user("chadwick", first_name="James", last_name="Chadwick")
    sessions = {
        "A": make_investigation(instruments["LoKI"], "ESS-1", "v1", released=True),
        "B": make_investigation(instruments["ODIN"], "ESS-2", "v1", released=True),
        "C": make_investigation(instruments["FREIA"], "ESS-3", "v1", released=True),
        "X": make_investigation(instruments["LoKI"], "ESS-9", "v1"),  # embargoed
    }
    pi, participant = InvestigationUser.Role.PRINCIPAL_INVESTIGATOR, InvestigationUser.Role.PARTICIPANT
    for key, (lead, other) in {"A": (smith, chadwick), "B": (smith, chadwick), "C": (chadwick, smith),
                               "X": (smith, chadwick)}.items():  # fmt: skip
        InvestigationUser.objects.create(user=lead, investigation=sessions[key], role=pi)
        InvestigationUser.objects.create(user=other, investigation=sessions[key], role=participant)
    samples = {key: make_sample(inv, "solid copper cylinder") for key, inv in sessions.items()}
    layout = [(1, "A", "sans"), (2, "B", "sans"), (3, "C", "xas"), (4, "C", "xas"), ("secret", "X", "xas")]
    datasets = {}
    for n, key, code in layout:
        ds = make_dataset(sessions[key], str(data_root / f"ds{n}"), sample=samples[key], definition=definitions[code],
                          name=f"PaNOSC Test Dataset {n}", start_date=timezone.now() - timedelta(days=30))  # fmt: skip
        Datafile.objects.create(dataset=ds, path=f"raw/panosc-file{n}.hdf", size=10)
        datasets[n] = ds
    values = [(1, "chemical_formula", "Cu"), (1, "sample_state", "solid"), (2, "photon_energy", 930),
              (3, "temperature", 20), (4, "wavelength", 1064)]  # fmt: skip
    values += [("secret", name, value) for _, name, value in values]
    values[-1] = ("secret", "wavelength", 1064)
    for n, name, value in values:
        text, number = (value, None) if isinstance(value, str) else ("", value)
        ParameterValue.objects.create(
            dataset=datasets[n], parameter_type=params[name], numeric_value=number, text_value=text
        )
    Datafile.objects.create(dataset=datasets["secret"], path="raw/panosc-file1-secret.hdf", size=10)
    admin = Actor(user=make_user("root", is_staff=True, is_superuser=True))
    # Document 2: the session DOI of C, published; the embargoed session's DOI only reserved.
    document2 = services.publication_publish(
        actor=admin, publication=services.publication_create_session(actor=admin, investigation=sessions["C"])
    )
    services.publication_reserve(
        actor=admin, publication=services.publication_create_session(actor=admin, investigation=sessions["X"])
    )
    # Document 1: a published selection DOI of datasets 1 and 2 (and the embargoed one: never shown).
    collection = DataCollection.objects.create(name="PaNOSC Test Publication", owner=smith)
    collection.datasets.set([datasets[1], datasets[2], datasets["secret"]])
    document1 = Publication.objects.create(
        kind=Publication.Kind.SELECTION, doi="10.5072/PANOSC-DOC1", collection=collection, owner=smith,
        title="PaNOSC Test Publication", licence="CC-BY-4.0", state=Publication.State.FINDABLE,
        published=timezone.now(),
    )  # fmt: skip
    services._add_people(document1, [sessions["A"], sessions["B"]])
    return {"datasets": datasets, "documents": {1: document1, 2: document2}, "sessions": sessions}


def get(client, url, filter_=None, **params):
    if filter_ is not None:
        params["filter"] = json.dumps(filter_)
    response = client.get(f"/panosc/{url}", params)
    assert response["Content-Type"].startswith("application/json")
    return response


def ok(client, url, filter_=None, **params):
    response = get(client, url, filter_, **params)
    assert response.status_code == 200, response.content
    return response.json()


def titles(body) -> list[str]:
    return [item["title"] for item in body]


# --- test/dataset.test.js ---------------------------------------------------------------------


def test_datasets_without_filter(client, db_json):
    body = ok(client, "datasets")
    assert titles(body) == [f"PaNOSC Test Dataset {n}" for n in (1, 2, 3, 4)]
    for dataset in body:
        assert {"pid", "title", "isPublic", "creationDate", "score"} <= set(dataset)
        assert dataset["isPublic"] is True and dataset["score"] == 0


def test_datasets_where_technique_is_xray_absorption(client, db_json):
    body = ok(
        client, "datasets", {"include": [{"relation": "techniques", "scope": {"where": {"name": "x-ray absorption"}}}]}
    )
    assert titles(body) == ["PaNOSC Test Dataset 3", "PaNOSC Test Dataset 4"]
    for dataset in body:
        assert [t["name"] for t in dataset["techniques"]] == ["x-ray absorption"]


def parameter_filter(*conditions, combine="and"):
    return {"include": [{"relation": "parameters", "scope": {"where": {combine: list(conditions)}}}]}


def test_datasets_with_a_photon_energy_between_880_and_990_ev(client, db_json):
    body = ok(
        client,
        "datasets",
        parameter_filter({"name": "photon_energy"}, {"value": {"between": [880, 990]}}, {"unit": "eV"}),
    )
    assert titles(body) == ["PaNOSC Test Dataset 2"]
    assert body[0]["parameters"] == [
        {"id": body[0]["parameters"][0]["id"], "name": "photon_energy", "value": 930, "unit": "eV"}
    ]


def test_parameter_values_are_converted_with_pint_both_ways(client, db_json):
    body = ok(
        client,
        "datasets",
        parameter_filter({"name": "photon_energy"}, {"value": {"between": [0.88, 0.99]}}, {"unit": "keV"}),
    )
    assert titles(body) == ["PaNOSC Test Dataset 2"]
    assert body[0]["parameters"][0]["value"] == pytest.approx(0.93) and body[0]["parameters"][0]["unit"] == "keV"
    assert (
        ok(client, "datasets", parameter_filter({"name": "photon_energy"}, {"value": {"gt": 1}}, {"unit": "keV"})) == []
    )
    # A unit of another dimension matches nothing (no 500); kelvin against celsius converts the offset.
    assert (
        ok(client, "datasets", parameter_filter({"name": "photon_energy"}, {"value": {"gt": 1}}, {"unit": "m"})) == []
    )
    body = ok(
        client, "datasets", parameter_filter({"name": "temperature"}, {"value": {"between": [290, 300]}}, {"unit": "K"})
    )
    assert titles(body) == ["PaNOSC Test Dataset 3"] and body[0]["parameters"][0]["value"] == pytest.approx(293.15)


def test_datasets_with_a_solid_sample_or_containing_copper(client, db_json):
    where = [
        {"and": [{"name": "sample_state"}, {"value": "solid"}]},
        {"and": [{"name": "chemical_formula"}, {"value": "Cu"}]},
    ]
    body = ok(client, "datasets", parameter_filter(*where, combine="or"))
    assert titles(body) == ["PaNOSC Test Dataset 1"]
    assert [(p["name"], p["value"]) for p in body[0]["parameters"]] == [
        ("chemical_formula", "Cu"),
        ("sample_state", "solid"),
    ]


def test_datasets_with_a_temperature_below_80_celsius(client, db_json):
    body = ok(client, "datasets", parameter_filter({"name": "temperature"}, {"value": {"lt": 80}}, {"unit": "celsius"}))
    assert titles(body) == ["PaNOSC Test Dataset 3"]
    assert [(p["name"], p["value"], p["unit"]) for p in body[0]["parameters"]] == [("temperature", 20, "celsius")]


def test_datasets_with_a_file_matching_file1(client, db_json):
    body = ok(client, "datasets", {"include": [{"relation": "files", "scope": {"where": {"text": "file1"}}}]})
    assert titles(body) == ["PaNOSC Test Dataset 1"]
    assert [f["name"] for f in body[0]["files"]] == ["panosc-file1.hdf"]


def test_dataset_by_pid(client, db_json):
    pid = f"dataset-{db_json['datasets'][1].pk}"
    body = ok(client, f"datasets/{pid}")
    assert body["pid"] == pid and body["title"] == "PaNOSC Test Dataset 1" and body["isPublic"] is True
    assert "creationDate" in body and body["instrumentId"] == "LoKI"


# --- test/document.test.js --------------------------------------------------------------------


def test_documents_without_filter(client, db_json):
    body = ok(client, "documents")
    assert [(d["title"], d["type"]) for d in body] == [
        ("Investigation ESS-3", "proposal"), ("PaNOSC Test Publication", "publication")
    ]  # fmt: skip
    for document in body:
        assert {"pid", "isPublic", "type", "title", "score"} <= set(document)


def test_proposals_whose_principal_investigator_is_james_chadwick(client, db_json):
    members = {"relation": "members", "scope": {"where": {"role": "principal investigator"},
               "include": [{"relation": "person", "scope": {"where": {"fullName": "James Chadwick"}}}]}}  # fmt: skip
    body = ok(client, "documents", {"where": {"type": "proposal"}, "include": [{"relation": "datasets"}, members]})
    assert [d["pid"] for d in body] == [db_json["documents"][2].doi]
    assert titles(body[0]["datasets"]) == ["PaNOSC Test Dataset 3", "PaNOSC Test Dataset 4"]
    assert [(m["role"], m["person"]["fullName"]) for m in body[0]["members"]] == [
        ("principal investigator", "James Chadwick")
    ]
    # John Smith leads the publication's sessions, not the proposal.
    members["scope"]["include"][0]["scope"]["where"]["fullName"] = "John Smith"
    body = ok(client, "documents", {"include": [members]})
    assert [d["pid"] for d in body] == [db_json["documents"][1].doi]


def test_documents_with_a_wavelength_parameter(client, db_json):
    """Our documents carry no parameters of their own (the reference's document 1 has one): none match."""
    body = ok(
        client,
        "documents",
        parameter_filter({"name": "wavelength"}, {"value": {"between": [1000, 1100]}}, {"unit": "nm"}),
    )
    assert body == []


def test_documents_whose_datasets_have_a_wavelength_between_1000_and_1100_nm(client, db_json):
    scope = parameter_filter({"name": "wavelength"}, {"value": {"between": [1000, 1100]}}, {"unit": "nm"})
    body = ok(client, "documents", {"include": [{"relation": "datasets", "scope": scope}]})
    assert [d["pid"] for d in body] == [db_json["documents"][2].doi]
    assert titles(body[0]["datasets"]) == ["PaNOSC Test Dataset 4"]
    assert [(p["value"], p["unit"]) for p in body[0]["datasets"][0]["parameters"]] == [(1064, "nm")]


def test_documents_whose_datasets_use_xray_absorption_on_copper(client, db_json):
    scope = {"include": [
        {"relation": "samples", "scope": {"where": {"name": "solid copper cylinder"}}},
        {"relation": "techniques", "scope": {"where": {"name": "x-ray absorption"}}},
    ]}  # fmt: skip
    body = ok(client, "documents", {"include": [{"relation": "datasets", "scope": scope}]})
    assert [d["pid"] for d in body] == [db_json["documents"][2].doi]
    for dataset in body[0]["datasets"]:
        assert [s["name"] for s in dataset["samples"]] == ["solid copper cylinder"]
        assert [t["panetId"] for t in dataset["techniques"]] == [PURL + "PaNET01227"]


def test_documents_whose_datasets_have_a_file_matching_file1(client, db_json):
    scope = {"include": [{"relation": "files", "scope": {"where": {"text": "file1"}}}]}
    body = ok(client, "documents", {"include": [{"relation": "datasets", "scope": scope}]})
    assert [d["pid"] for d in body] == [db_json["documents"][1].doi]
    assert titles(body[0]["datasets"]) == ["PaNOSC Test Dataset 1"]  # not the embargoed one it also holds
    assert [f["name"] for f in body[0]["datasets"][0]["files"]] == ["panosc-file1.hdf"]


def test_document_by_pid(client, db_json):
    doi = db_json["documents"][1].doi
    body = ok(client, f"documents/{doi}", {"include": ["datasets"]})
    assert body["pid"] == doi and body["type"] == "publication" and body["isPublic"] is True
    assert titles(body["datasets"]) == ["PaNOSC Test Dataset 1", "PaNOSC Test Dataset 2"]
    assert ok(client, f"documents/{doi.lower()}")["pid"] == doi


# --- test/instrument.test.js ------------------------------------------------------------------


def test_instruments(client, db_json):
    body = ok(client, "instruments")
    assert sorted(i["name"] for i in body) == sorted(ESS)
    assert all(i["facility"] == "ESS" and i["score"] == 0 and i["pid"] == i["name"] for i in body)
    assert [i["name"] for i in ok(client, "instruments", {"where": {"name": "LoKI"}})] == ["LoKI"]
    page = ok(client, "instruments", {"where": {"facility": "ESS"}, "skip": 0, "limit": 3})
    assert len(page) == 3 and all(i["facility"] == "ESS" for i in page)
    assert ok(client, "instruments", {"where": {"facility": "ILL"}}) == []
    body = ok(client, "instruments/LoKI", {"include": ["datasets"]})
    assert body["pid"] == "LoKI" and titles(body["datasets"]) == ["PaNOSC Test Dataset 1"]


# --- test/panet.test.js -----------------------------------------------------------------------


def test_techniques_by_panet_id(client, db_json):
    for panet in (PURL + "PaNET01227", "PaNET01227"):
        where = {"panetId": panet}
        body = ok(client, "datasets", {"include": [{"relation": "techniques", "scope": {"where": where}}]})
        assert titles(body) == ["PaNOSC Test Dataset 3", "PaNOSC Test Dataset 4"]
        assert {t["panetId"] for d in body for t in d["techniques"]} == {PURL + "PaNET01227"}
    body = ok(client, "datasets", {"include": [{"relation": "techniques"}]})
    assert len(body) == 4 and all(len(d["techniques"]) == 1 for d in body)


# --- Counts, text, score -----------------------------------------------------------------------


def test_counts(client, db_json):
    assert ok(client, "datasets/count") == {"count": 4}
    assert ok(client, "datasets/count", where=json.dumps({"title": {"like": "%Dataset 3"}})) == {"count": 1}
    assert ok(client, "documents/count") == {"count": 2}
    assert ok(client, "documents/count", where=json.dumps({"type": "proposal"})) == {"count": 1}
    assert ok(client, "instruments/count") == {"count": 15}
    assert ok(client, "instruments/count", where=json.dumps({"name": {"inq": ["LoKI", "ODIN", "X"]}})) == {"count": 2}


def test_a_query_scores_the_results(client, db_json):
    body = ok(client, "datasets", query="dataset 1")
    assert body[0]["title"] == "PaNOSC Test Dataset 1" and body[0]["score"] == 1.0
    assert len(body) == 4 and {d["score"] for d in body[1:]} == {0.5}
    assert ok(client, "documents", query="publication")[0]["score"] == 1.0
    assert ok(client, "datasets", {"where": {"text": "Dataset 2"}})[0]["title"] == "PaNOSC Test Dataset 2"
    assert ok(client, "datasets/count", query="nothing-like-this") == {"count": 0}


# --- Open data only ------------------------------------------------------------------------------


def test_embargoed_data_never_appear(client, db_json):
    secret = db_json["datasets"]["secret"]
    reserved = Publication.objects.get(investigation=db_json["sessions"]["X"])
    everything = {
        "include": [
            {"relation": r} for r in ("documents", "files", "parameters", "samples", "techniques", "instrument")
        ]
    }
    answers = [
        get(client, "datasets", everything), get(client, "datasets", query="secret"),
        get(client, "documents", {"include": [{"relation": "datasets", "scope": {"include": ["files"]}}]}),
        get(client, "instruments", {"include": ["datasets"]}),
    ]  # fmt: skip
    for response in answers:
        body = response.content.decode()
        assert "secret" not in body and f'dataset-{secret.pk}"' not in body and reserved.doi not in body
    assert get(client, f"datasets/dataset-{secret.pk}").status_code == 404
    assert get(client, f"documents/{reserved.doi}").status_code == 404
    assert ok(client, "datasets/count") == {"count": 4}


def test_a_signed_in_participant_sees_no_more(client, db_json):
    client.force_login(get_user_model().objects.get(username="smith"))
    assert ok(client, "datasets/count") == {"count": 4}
    assert get(client, f"datasets/dataset-{db_json['datasets']['secret'].pk}").status_code == 404


# --- Hostile filters ------------------------------------------------------------------------------


def refused(client, url, raw: str, field: str, **params):
    response = client.get(f"/panosc/{url}", {"filter": raw, **params})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["statusCode"] == 400 and error["field"].startswith(field), error
    assert error["reason"]
    return error


@pytest.mark.parametrize(
    "filter_, field",
    [
        ({"where": {"colour": "red"}}, "filter.where.colour"),
        ({"where": {"title": {"gt": "a"}}}, "filter.where.title.gt"),
        ({"where": {"size": "big"}}, "filter.where.size"),
        ({"where": {"size": {"between": [1]}}}, "filter.where.size.between"),
        ({"where": {"size": {"regexp": "(a+)+$"}}}, "filter.where.size.regexp"),
        ({"where": {"title": {"inq": "a"}}}, "filter.where.title.inq"),
        ({"where": {"creationDate": {"gt": "yesterday"}}}, "filter.where.creationDate.gt"),
        ({"where": {"and": {"title": "a"}}}, "filter.where.and"),
        ({"where": {"text": 5}}, "filter.where.text"),
        ({"where": ["title"]}, "filter.where"),
        ({"limit": "many"}, "filter.limit"),
        ({"limit": -1}, "filter.limit"),
        ({"skip": 10**9}, "filter.skip"),
        ({"order": "x", "colour": 1}, "filter.colour"),
        ({"include": [{"relation": "nope"}]}, "filter.include[0].relation"),
        ({"include": [{"relation": "files", "scope": {"where": {"bytes": 1}}}]}, "filter.include[0].scope.where.bytes"),
        ({"include": [{"relation": "parameters", "scope": {"where": {"value": {"a": 1}}}}]}, "filter.include[0].scope"),
        ({"include": [{"relation": "parameters", "scope": {"where": {"value": [1, 2]}}}]}, "filter.include[0].scope"),
        ({"include": 5}, "filter.include"),
    ],
)
def test_bad_filters_are_refused_with_the_field_and_the_reason(client, db_json, filter_, field):
    refused(client, "datasets", json.dumps(filter_), field)


def test_hostile_filters(client, db_json):
    deep = {"title": "x"}
    for _ in range(50):
        deep = {"and": [deep]}
    assert "nested" in refused(client, "datasets", json.dumps({"where": deep}), "filter.where")["reason"]
    include = {"relation": "datasets"}
    for _ in range(5):
        include = {
            "relation": "datasets",
            "scope": {"include": [{"relation": "documents", "scope": {"include": [include]}}]},
        }
    refused(client, "documents", json.dumps({"include": [include]}), "filter.include")
    refused(client, "datasets", "[" * 5000 + "]" * 5000, "filter")
    refused(client, "datasets", "{not json", "filter")
    refused(client, "datasets", json.dumps({"where": {"or": [{"title": str(i)} for i in range(300)]}}), "filter.where")
    response = client.get("/panosc/datasets", {"filter": json.dumps({"where": {"title": "x" * 10_000_000}})})
    assert response.status_code == 400 and "too long" in response.json()["error"]["reason"]
    assert client.get("/panosc/datasets/count", {"where": "[]"}).status_code == 400
    assert client.get("/panosc/datasets", {"query": " ".join(f"w{i}" for i in range(50))}).status_code == 400
    assert client.post("/panosc/datasets").status_code == 405


def test_limit_is_capped(client, db_json, monkeypatch):
    monkeypatch.setattr(panosc_query, "MAX_LIMIT", 5)
    assert len(ok(client, "instruments", {"limit": 1000})) == 5
    assert len(ok(client, "instruments", {"limit": 0})) == 5
    assert [i["name"] for i in ok(client, "instruments", {"limit": 2, "skip": 2})] == sorted(ESS)[2:4]


def test_a_page_costs_a_fixed_number_of_queries(client, db_json, django_assert_num_queries):
    everything = {"include": [{"relation": r} for r in ("files", "parameters", "samples", "techniques", "instrument")]}
    everything["include"].append(
        {"relation": "documents", "scope": {"include": [{"relation": "members", "scope": {"include": ["person"]}}]}}
    )
    # Session setup aside: the page, five relations, documents (two) and their members.
    with django_assert_num_queries(9):
        assert len(ok(client, "datasets", {**everything, "limit": 1})) == 1
    with django_assert_num_queries(9):
        assert len(ok(client, "datasets", everything)) == 4
    with django_assert_num_queries(1):
        ok(client, "datasets/count")
