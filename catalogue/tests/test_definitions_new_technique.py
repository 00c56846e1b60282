"""The promise: a new technique is a definition file. No table, column, migration or Python code.

A file for a technique no code knows (X-ray fluorescence mapping) is dropped next to the shipped
ones; it loads, datasets of it are stored through the API, validated both ways, searched, and
shown by the portal from the definition alone.
"""

import shutil
import textwrap
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from techniques.loading import DEFINITIONS_DIR

from .conftest import DATASETS_URL, user_client

pytestmark = pytest.mark.django_db

XRF = """
technique:
  code: XRF
  name: X-ray fluorescence mapping
  description: Raster scans of a sample recording fluorescence spectra, fitted into element maps.
  panet_id: PaNET01177
  views:
    columns: [XRF_dwell_time, XRF_elements]
parameters:
  - name: XRF_dwell_time
    label: Dwell time
    unit: ms
    type: numeric
    minimum: 0
    maximum: 1000
    nexus_path: /entry/instrument/fluo/count_time
  - name: XRF_elements
    label: Elements
    type: string
  - name: XRF_detector_mode
    label: Detector mode
    type: string
    permitted_values: [fast, slow]
  - name: XRF_fit_chi2
    label: Reduced χ²
    type: numeric
    searchable: false
definitions:
  - code: XRF_MAP
    label: Fluorescence map
    kind: raw
    summary: [XRF_dwell_time, XRF_elements]
    requires: [XRF_dwell_time]
    views:
      tabs:
        - title: Scan
          fields: [XRF_dwell_time, XRF_detector_mode]
      gallery: ["maps/*.png"]
  - code: XRF_FIT
    label: Spectrum fit
    kind: processed
    inputs: [XRF_MAP]
    input_min: 1
    input_max: 1
    views:
      results:
        - title: Fit quality
          cell: "XRF_{row}_{column}"
          rows: [{key: fit, label: Whole map}]
          columns: [{key: chi2, label: Reduced χ²}]
"""

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def definitions(tmp_path):
    """The shipped definition files plus the new one, in a folder of their own."""
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, folder)
    (folder / "xrf.yaml").write_text(textwrap.dedent(XRF))
    return folder


def sync(folder) -> str:
    out = StringIO()
    call_command("sync_techniques", "--directory", str(folder), stdout=out)
    return out.getvalue()


def store(client, data_root, **fields):
    body = {"proposal": "MX-1", "visit_id": "v1", "sample": "leaf"} | fields
    body["location"] = str(data_root / body["location"])
    return client.post(DATASETS_URL, body, format="json")


def test_a_new_technique_is_a_definition_file(
    definitions, investigation, instrument, instrument_client, staff, data_root, django_capture_on_commit_callbacks
):
    # Load: the command reports exactly the new vocabulary, and only it.
    report = sync(definitions)
    assert report.splitlines() == [
        "created technique XRF",
        "created parameter XRF_dwell_time",
        "created parameter XRF_elements",
        "created parameter XRF_detector_mode",
        "created parameter XRF_fit_chi2",
        "created definition XRF_MAP",
        "created definition XRF_FIT",
    ]
    assert sync(definitions).strip() == "Vocabulary up to date."

    # Strict (the facility default): every rule broken is named with its value.
    response = store(
        instrument_client,
        data_root,
        name="map 1",
        location="xrf/map1",
        definition="XRF_MAP",
        parameters={"XRF_dwell_time": {"value": 2, "unit": "s"}, "XRF_detector_mode": "turbo", "XRF_gain": 3},
    )
    assert response.status_code == 400
    assert response.json()["errors"]["parameters"] == {
        "XRF_dwell_time": "value 2000 ms breaks rule: maximum 1000 ms",
        "XRF_detector_mode": "value 'turbo' breaks rule: one of 'fast', 'slow'",
        "XRF_gain": "not in the vocabulary",
    }
    response = store(instrument_client, data_root, name="map 1", location="xrf/map1", definition="XRF_MAP")
    assert response.json()["errors"]["parameters"] == {
        "XRF_dwell_time": "no value breaks rule: XRF_MAP requires XRF_dwell_time"
    }

    # A valid raw map, in another unit, with an image its definition shows in the gallery.
    location = data_root / "xrf/map1"
    (location / "maps").mkdir(parents=True)
    (location / "maps/Fe.png").write_bytes(PNG)
    with django_capture_on_commit_callbacks(execute=True):
        response = store(
            instrument_client,
            data_root,
            name="map 1",
            location="xrf/map1",
            definition="XRF_MAP",
            parameters={
                "XRF_dwell_time": {"value": 0.05, "unit": "s"},
                "XRF_elements": "Fe Zn",
                "XRF_detector_mode": "fast",
            },
            files=[{"path": "maps/Fe.png", "size": len(PNG)}, {"path": "spectra.h5", "size": 10}],
        )
    assert response.status_code == 201, response.json()
    raw = response.json()
    assert raw["parameters"]["XRF_dwell_time"] == pytest.approx(50.0) and raw["warnings"] == []

    # Processed: its input must be a map (strict), its fit statistic is not searchable.
    response = store(
        instrument_client, data_root, name="fit", location="xrf/fit", kind="processed", definition="XRF_FIT"
    )
    assert response.json()["errors"]["inputs"] == "0 inputs break rule: XRF_FIT takes at least 1"
    fit = store(
        instrument_client,
        data_root,
        name="fit",
        location="xrf/fit",
        kind="processed",
        definition="XRF_FIT",
        inputs=[raw["id"]],
        parameters={"XRF_fit_chi2": 1.07},
    )
    assert fit.status_code == 201, fit.json()
    assert instrument_client.get(DATASETS_URL, {"parameter": "XRF_fit_chi2", "parameter_max": 2}).json()["count"] == 0

    # Lenient on this instrument: stored, flagged, and the flags are served.
    instrument.validation = "lenient"
    instrument.save()
    response = store(
        instrument_client,
        data_root,
        name="map 2",
        location="xrf/map2",
        definition="XRF_MAP",
        parameters={"XRF_dwell_time": 5000, "XRF_detector_mode": "turbo"},
    )
    assert response.status_code == 201, response.json()
    flagged = response.json()
    assert flagged["parameters"] == {"XRF_dwell_time": 5000.0, "XRF_detector_mode": "turbo"}
    assert flagged["warnings"] == [
        {
            "field": "parameters.XRF_dwell_time",
            "value": 5000,
            "rule": "value 5000 ms breaks rule: maximum 1000 ms",
        },
        {
            "field": "parameters.XRF_detector_mode",
            "value": "turbo",
            "rule": "value 'turbo' breaks rule: one of 'fast', 'slow'",
        },
    ]

    # Search by the new parameter, in another unit.
    found = instrument_client.get(
        DATASETS_URL, {"parameter": "XRF_dwell_time", "parameter_min": 0.01, "parameter_max": 0.1, "unit": "s"}
    ).json()
    assert [d["name"] for d in found["results"]] == ["map 1"]

    # The portal shows it from its definition: the investigation's table columns...
    client = user_client(staff)
    table = client.get(reverse("investigation-detail", args=[investigation.pk]), {"definition": "XRF_MAP"})
    assert [c["name"] for c in table.context["columns"]] == ["XRF_dwell_time", "XRF_elements"]
    html = table.content.decode()
    assert "Dwell time" in html and "Fe Zn" in html and "1 warning" not in html and "2 warnings" in html
    # ... the dataset page's tabs and gallery, the processed one's result table.
    page = client.get(reverse("dataset-detail", args=[raw["id"]]))
    view = page.context["view"]
    assert [(title, [p.name for p in rows]) for title, rows in view.tabs] == [
        ("Scan", ["XRF_dwell_time", "XRF_detector_mode"])
    ]
    assert [f.path for f in view.gallery] == ["maps/Fe.png"]
    image = client.get(reverse("dataset-image", args=[raw["id"], view.gallery[0].pk]))
    assert image.status_code == 200 and b"".join(image.streaming_content) == PNG
    page = client.get(reverse("dataset-detail", args=[fit.json()["id"]]))
    assert page.context["view"].results[0].rows == [("Whole map", [1.07])]
    assert "Reduced χ²" in page.content.decode()
    warnings = client.get(reverse("dataset-detail", args=[flagged["id"]])).content.decode()
    assert "breaks rule: maximum 1000 ms" in warnings

    # The vocabulary as a reference.
    page = client.get(reverse("technique-detail", args=["XRF"]))
    assert page.status_code == 200 and "PaNET01177" in page.content.decode()
    assert "x-ray fluorescence" in page.content.decode()  # the PaNET term's label, from techniques/panet/
    parameters = client.get("/api/v1/parameters/", {"technique": "XRF"}).json()["results"]
    assert [p["name"] for p in parameters] == ["XRF_detector_mode", "XRF_dwell_time", "XRF_elements", "XRF_fit_chi2"]

    # And no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
