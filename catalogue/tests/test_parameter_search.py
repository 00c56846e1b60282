"""Parameter search in any compatible unit, in the API and the portal, under the access policy."""

import pytest
from django.urls import reverse

from catalogue.ingestion.services import dataset_store

from .conftest import DATASETS_URL, key_actor, make_user, store_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def datasets(investigation, released_investigation, vocabulary, raw_definition, api_key, data_root):
    """a: 1.5 Å at 12.4 keV, b: 2.5 Å at 13.5 keV (embargoed); c: 1.8 Å at 12.7 keV (public)."""
    for name, proposal, resolution, energy in [
        ("a", "MX-1", 1.5, 12.4),
        ("b", "MX-1", 2.5, 13.5),
        ("c", "MX-0", 1.8, 12.7),
    ]:
        request = store_request(
            data_root,
            name=name,
            location=name,
            proposal=proposal,
            definition="TEST_raw",
            parameters={"TEST_resolution": resolution, "TEST_energy": energy},
        )
        dataset_store(actor=key_actor(api_key), request=request)


def names(client, **query) -> list[str]:
    response = client.get(DATASETS_URL, query)
    assert response.status_code == 200, response.json()
    return sorted(d["name"] for d in response.json()["results"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"parameter_max": 2}, ["a", "c"]),  # the vocabulary's unit: Å
        ({"parameter_max": 2, "unit": "angstrom"}, ["a", "c"]),
        ({"parameter_max": 2, "unit": "Å"}, ["a", "c"]),
        ({"parameter_max": 0.16, "unit": "nm"}, ["a"]),
        ({"parameter_min": 170, "parameter_max": 300, "unit": "pm"}, ["b", "c"]),
    ],
)
def test_resolution_in_any_length_unit(instrument_client, datasets, query, expected):
    assert names(instrument_client, parameter="TEST_resolution", **query) == expected


def test_energy_between_12_and_13_kev_given_in_ev(instrument_client, datasets):
    query = {"parameter": "TEST_energy", "parameter_min": 12000, "parameter_max": 13000, "unit": "eV"}
    assert names(instrument_client, **query) == ["a", "c"]
    assert names(instrument_client, **query, instrument="ID30", definition="TEST_raw", technique="test-tech") == [
        "a",
        "c",
    ]
    assert names(instrument_client, **query, instrument="BM29") == []


def test_an_incompatible_unit_is_a_400_naming_it(instrument_client, datasets):
    response = instrument_client.get(DATASETS_URL, {"parameter": "TEST_energy", "parameter_max": 2, "unit": "mm"})
    assert response.status_code == 400
    assert response.json()["errors"]["unit"] == ["unit 'mm' cannot be converted to 'keV' (the unit of TEST_energy)"]


def test_results_follow_the_access_policy(api_client, datasets):
    assert names(api_client, parameter="TEST_resolution", parameter_max=0.2, unit="nm") == ["c"]  # public only


def test_the_portal_search_page(client, datasets, participant):
    client.force_login(participant)
    url = reverse("dataset-list")
    response = client.get(url, {"parameter": "TEST_energy", "parameter_min": 12, "parameter_max": 13, "unit": "keV"})
    assert sorted(d.name for d in response.context["page_obj"]) == ["a", "c"]
    html = response.content.decode()
    assert '<datalist id="vocabulary">' in html and '<option value="TEST_resolution">' in html
    response = client.get(url, {"parameter": "TEST_energy", "parameter_max": 13, "unit": "furlongz"})
    assert "unknown unit" in response.content.decode()
    assert [d.name for d in response.context["page_obj"]] == []


def test_the_vocabulary_api_serves_the_typeahead(api_client, vocabulary):
    response = api_client.get("/api/v1/parameters/", {"q": "TEST_resol"})
    assert [p["name"] for p in response.json()["results"]] == ["TEST_resolution"]
    assert response.json()["results"][0]["unit"] == "angstrom"


@pytest.mark.parametrize("extra", [0, 30])
def test_search_page_query_count(client, datasets, data_root, api_key, extra, django_assert_num_queries):
    for i in range(extra):
        request = store_request(
            data_root, name=f"more{i}", location=f"more{i}", definition="TEST_raw", parameters={"TEST_energy": 12.5}
        )
        dataset_store(actor=key_actor(api_key), request=request)
    client.force_login(make_user("searcher", is_staff=True))
    client.get(reverse("search"))
    query = {"parameter": "TEST_energy", "parameter_max": 13000, "unit": "eV", "definition": "TEST_raw"}
    # session, user; parameter and definition lookups; vocabulary, instruments, techniques,
    # definition choices; COUNT, page; the facets (counted on the matching datasets)
    with django_assert_num_queries(11):
        response = client.get(reverse("dataset-list"), query)
    assert response.context["page_obj"].paginator.count == 2 + extra
    assert [c["name"] for c in response.context["columns"]] == []  # the test technique declares none


def test_search_page_for_anonymous(client, datasets):
    response = client.get(reverse("dataset-list"))
    assert [d.name for d in response.context["page_obj"]] == ["c"]
