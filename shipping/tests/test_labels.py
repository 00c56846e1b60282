"""The labels: rendered, rasterized (pdftoppm, Debian's poppler-utils) and decoded (zbarimg,
Debian's zbar-tools): the barcode gives the parcel's barcode, the QR code its page."""

import shutil
import subprocess

import pytest

from shipping import services
from shipping.labels import content_summary, parcel_labels, parcel_url

from .conftest import person

pytestmark = pytest.mark.django_db


def decode(pdf: bytes, tmp_path) -> list[list[str]]:
    """Per page, the symbols zbarimg reads, as 'TYPE:data'."""
    for tool in ("pdftoppm", "zbarimg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/install-system-packages")
    (tmp_path / "labels.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "labels.pdf", "page"], cwd=tmp_path, check=True)
    pages = []
    for image in sorted(tmp_path.glob("page*.png")):
        result = subprocess.run(["zbarimg", "--quiet", str(image)], capture_output=True, text=True, check=False)
        pages.append(sorted(result.stdout.split()))
    return pages


def test_the_barcode_and_qr_code_decode_to_the_parcel(participant, puck, tmp_path, settings):
    settings.PORTAL_URL = "https://data.example.org"
    parcel = puck.parcel
    pdf = parcel_labels(parcel)
    assert pdf.startswith(b"%PDF")
    want = sorted([f"CODE-128:{parcel.barcode}", f"QR-Code:https://data.example.org/shipping/parcels/{parcel.pk}/"])
    assert decode(pdf, tmp_path) == [want, want]  # the shipping label and the return label
    assert parcel_url(parcel).endswith(f"/shipping/parcels/{parcel.pk}/")


def test_the_label_says_what_is_inside(participant, puck):
    services.item_create(
        actor=person(participant), parcel=puck.parcel, parent=puck, type="SAMPLE", name="s", position=1
    )
    assert content_summary(puck.parcel) == "1 container, 1 sample"


def test_a_label_names_the_session_and_addresses(participant, puck, tmp_path):
    pdf = parcel_labels(puck.parcel)
    (tmp_path / "labels.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "labels.pdf", "-"], cwd=tmp_path, capture_output=True, text=True).stdout
    for expected in (
        "SHIPPING LABEL",
        "RETURN LABEL",
        "Affix to the parcel's container",
        "MX-1 v1 on ID30",
        "Ada Lovelace",
        "Liquid nitrogen",
        "1 container",
        puck.parcel.barcode,
    ):
        assert expected in text, expected
