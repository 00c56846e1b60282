"""The shipped definitions drive the portal: result tables, columns, tabs, gallery; and the
vocabulary is served and exported. Uses the real vocabulary loaded on migrate."""

import csv
import io

import pytest
from django.urls import reverse

from catalogue.portal.pages import _files_matching
from techniques.models import DatasetDefinition

from .conftest import make_dataset

pytestmark = pytest.mark.django_db

SCALING = {
    f"MXAutoprocIntegrationScaling_{shell}_{stat}": value
    for shell, values in {"overall": (49.1, 1.9, 99.5), "inner": (49.1, 5.2, 99.9), "outer": (2.0, 1.9, 98.1)}.items()
    for stat, value in zip(("resolution_limit_low", "resolution_limit_high", "completeness"), values, strict=True)
}


@pytest.fixture
def mx(investigation, data_root):
    raw = make_dataset(
        investigation,
        str(data_root / "osc"),
        definition=DatasetDefinition.objects.get(code="MX_OSCILLATION"),
        parameters={"MX_numberOfImages": 3600, "MX_exposureTime": 0.01, "MX_resolution": 1.8},
    )
    processed = make_dataset(
        investigation,
        str(data_root / "autoproc"),
        kind="processed",
        definition=DatasetDefinition.objects.get(code="MX_INTEGRATION"),
        parameters={**SCALING, "MXAutoprocIntegration_space_group": "P21"},
    )
    processed.inputs.add(raw)
    return raw, processed


def test_mx_scaling_statistics_table(client, staff, mx):
    client.force_login(staff)
    response = client.get(mx[1].get_absolute_url())
    (table,) = response.context["view"].results
    assert table.title == "Scaling statistics"
    assert [label for label, _ in table.rows] == ["Overall", "Inner shell", "Outer shell"]
    assert table.columns[:2] == [("Low resolution", "Å"), ("High resolution", "Å")]
    assert [cells[:2] for _, cells in table.rows] == [[49.1, 1.9], [49.1, 5.2], [2.0, 1.9]]
    assert table.rows[2][1][4] == 98.1  # completeness, the fifth column
    assert ("Crystal", ["MXAutoprocIntegration_space_group"]) in [
        (title, [p.name for p in rows]) for title, rows in response.context["view"].tabs
    ]


def test_investigation_table_has_the_techniques_columns(client, staff, mx, investigation, data_root):
    client.force_login(staff)
    url = investigation.get_absolute_url()
    columns = client.get(url).context["columns"]
    assert [c["label"] for c in columns][:3] == ["Images", "Exposure time", "Resolution"]
    assert "3600" in client.get(url).content.decode()
    # Another technique's dataset in the table: the generic columns only, until a definition is chosen.
    make_dataset(
        investigation, str(data_root / "saxs"), definition=DatasetDefinition.objects.get(code="SAXS_ACQUISITION")
    )
    assert client.get(url).context["columns"] == []
    assert client.get(url, {"definition": "MX_INTEGRATION"}).context["columns"] == columns


def test_gallery_costs_one_query(client, staff, investigation, data_root, django_assert_num_queries):
    dataset = make_dataset(
        investigation,
        str(data_root / "sub"),
        kind="processed",
        definition=DatasetDefinition.objects.get(code="SAXS_SUBTRACTION"),
        parameters={"SAXS_guinier_rg": 3.1, "SAXS_bift_rg": 3.2, "SAXS_bift_dmax": 10.5},
        files=3,
    )
    dataset.datafiles.create(path="gallery/x_Guinier.png", size=1)
    dataset.datafiles.create(path="gallery/sub/deeper.png", size=1)  # * stops at a slash
    dataset.file_count = 5
    dataset.save(update_fields=["file_count"])  # as registration does
    client.force_login(staff)
    client.get(reverse("search"))
    # session, user, dataset, vocabulary, gallery files, inputs, outputs, file page, storage history
    # (the dataset's file_count counts its files)
    with django_assert_num_queries(9):
        response = client.get(dataset.get_absolute_url())
    view = response.context["view"]
    assert [f.path for f in view.plots] == ["gallery/x_Guinier.png"]
    assert view.results[0].rows == [
        ("Guinier", [3.1, None, None, None, None, None]),
        ("BIFT", [3.2, None, None, None, 10.5, None]),
    ]
    assert response.context["page_obj"].paginator.count == 5
    with django_assert_num_queries(10):  # a filter: the matching files are counted
        filtered = client.get(dataset.get_absolute_url(), {"path": "gallery"})
    assert [f.path for f in filtered.context["page_obj"]] == ["gallery/sub/deeper.png", "gallery/x_Guinier.png"]
    assert filtered.context["page_obj"].paginator.count == 2
    other = dataset.datafiles.get(path="f000.h5")
    assert client.get(reverse("dataset-image", args=[dataset.pk, other.pk])).status_code == 404  # not an image


def test_every_shipped_definition_renders(client, staff, investigation, data_root):
    client.force_login(staff)
    for i, definition in enumerate(DatasetDefinition.objects.all()):
        names = [name for tab in definition.views.get("tabs", []) for name in tab["fields"]] + definition.summary
        dataset = make_dataset(
            investigation,
            str(data_root / f"d{i}"),
            kind=definition.kind,
            definition=definition,
            parameters=dict.fromkeys(names, 1),
        )
        response = client.get(dataset.get_absolute_url())
        assert response.status_code == 200, definition.code
        assert len(response.context["view"].tabs) == len(definition.views.get("tabs", [])), definition.code


def test_vocabulary_api_and_exports(client):
    techniques = client.get("/api/v1/techniques/").json()["results"]
    assert {"MX", "SAXS", "EM", "ET", "TOMO", "SSX"} <= {t["code"] for t in techniques}
    mx = client.get("/api/v1/techniques/MX/").json()
    assert "MX_INTEGRATION" in [d["code"] for d in mx["definitions"]]
    resolution = client.get("/api/v1/parameters/MX_resolution/").json()
    assert (resolution["unit"], resolution["technique"], resolution["minimum"]) == ("angstrom", "MX", 0.0)
    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("technique-export", args=["MX", "csv"])).content.decode()))
    )
    assert {"name": "MX_resolution", "unit": "angstrom", "value_type": "numeric"}.items() <= next(
        r for r in rows if r["name"] == "MX_resolution"
    ).items()
    response = client.get(reverse("technique-export", args=["SAXS", "json"]))
    assert response["Content-Disposition"] == 'attachment; filename="SAXS-parameters.json"'
    assert next(p for p in response.json() if p["name"] == "SAXS_sample_type")["permitted_values"] == [
        "sample",
        "buffer",
    ]
    assert client.get(reverse("technique-export", args=["MX", "xml"])).status_code == 404
    page = client.get(reverse("technique-detail", args=["MX"])).content.decode()
    assert "parameters.csv" in page and "/entry/instrument/detector/distance" in page


def test_gallery_patterns_other_than_web_images_still_match(investigation, data_root):
    """Patterns of web images read the partial index of such files; any other pattern reads them all."""
    dataset = make_dataset(investigation, str(data_root / "maps"))
    for path in ["a.png", "b.JPG", "c.tif", "d.h5", "sub/e.png"]:
        dataset.datafiles.create(path=path, size=1)
    assert [f.path for f in _files_matching(dataset, ["*.png", "*.JPG"])] == ["a.png", "b.JPG"]
    assert [f.path for f in _files_matching(dataset, ["*.tif", "*.png"])] == ["a.png", "c.tif"]
