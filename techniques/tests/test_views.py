"""The vocabulary pages: public, one technique's parameters and definitions, constant cost."""

import pytest
from django.urls import reverse

from techniques.models import DatasetDefinition, ParameterType, Technique

pytestmark = pytest.mark.django_db


@pytest.fixture
def technique(db) -> Technique:
    technique, _ = Technique.objects.get_or_create(
        code="TESTV", defaults={"name": "Vocabulary page technique", "description": "For the page tests."}
    )
    ParameterType.objects.update_or_create(
        name="TESTV_resolution",
        defaults={
            "label": "Resolution",
            "unit": "angstrom",
            "value_type": "numeric",
            "description": "Highest resolution of the data.",
            "technique": technique,
        },
    )
    ParameterType.objects.update_or_create(
        name="TESTV_spaceGroup", defaults={"label": "Space group", "value_type": "string", "technique": technique}
    )
    DatasetDefinition.objects.update_or_create(
        code="TESTV_OSC",
        defaults={"label": "Test oscillation", "kind": "raw", "technique": technique, "summary": ["TESTV_resolution"]},
    )
    DatasetDefinition.objects.update_or_create(
        code="TESTV_PROC",
        defaults={
            "label": "Test processing",
            "kind": "processed",
            "technique": technique,
            "input_definitions": ["TESTV_OSC"],
        },
    )
    return technique


def test_list_shows_techniques_with_counts(client, technique):
    response = client.get(reverse("technique-list"))
    assert response.status_code == 200
    listed = {t.code: (t.parameter_count, t.definition_count) for t in response.context["techniques"]}
    assert listed["TESTV"] == (2, 2)
    assert reverse("technique-detail", args=["TESTV"]) in response.content.decode()


def test_detail_shows_parameters_and_definitions(client, technique):
    response = client.get(reverse("technique-detail", args=["TESTV"]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("TESTV_resolution", "Resolution", "Å", "Numeric", "Highest resolution of the data.", "Space group"):
        assert text in html
    for text in ("Test oscillation", "Test processing", 'href="#definition-TESTV_OSC"', "Processed"):
        assert text in html


def test_the_panet_term_is_shown_by_its_label(client, technique):
    technique.panet_id = "PaNET01164"
    technique.save()

    detail = client.get(reverse("technique-detail", args=["TESTV"])).content.decode()
    listing = client.get(reverse("technique-list")).content.decode()

    assert "PaNET: macromolecular crystallography (PaNET01164)" in detail
    assert "macromolecular crystallography" in listing


def test_unknown_technique_is_404(client, db):
    assert client.get(reverse("technique-detail", args=["NO-SUCH"])).status_code == 404


@pytest.mark.parametrize("extra", [0, 30])
def test_query_counts(client, technique, extra, django_assert_num_queries):
    for i in range(extra):
        other = Technique.objects.create(code=f"TESTV{i}", name=f"Other {i}")
        ParameterType.objects.create(
            name=f"TESTV_extra{i}", label=f"Extra {i}", value_type="numeric", technique=technique
        )
        DatasetDefinition.objects.create(code=f"TESTV_EXTRA{i}", label=f"Extra {i}", kind="raw", technique=other)
    with django_assert_num_queries(1):
        assert client.get(reverse("technique-list")).status_code == 200
    with django_assert_num_queries(3):  # technique, parameters, definitions
        response = client.get(reverse("technique-detail", args=["TESTV"]))
    assert len(response.context["parameters"]) == 2 + extra
