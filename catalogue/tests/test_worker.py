"""File registration through a real Redis broker and a real Celery worker process."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from catalogue.models import Datafile, Instrument, Investigation
from catalogue.people.services import api_key_create

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until_complete(client, dataset_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/datasets/{dataset_id}/status/").json()
        if status["complete"]:
            return status
        time.sleep(0.2)
    raise AssertionError(f"dataset {dataset_id} not registered after {timeout} s: {status}")


def running_session(instrument_name: str, proposal: str, visit_id: str) -> APIClient:
    """A session running now on a new instrument, and an API client holding that instrument's key."""
    instrument = Instrument.objects.create(name=instrument_name)
    now = timezone.now()
    Investigation.objects.create(
        name=proposal,
        visit_id=visit_id,
        instrument=instrument,
        start_date=now - timedelta(hours=2),
        end_date=now + timedelta(hours=2),
        release_date=now + timedelta(days=1000),
    )
    _, secret = api_key_create(instrument=instrument, name=f"acquisition on {instrument_name}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_worker_scans_the_location_and_registers_files(celery_worker_process, settings, tmp_path):
    settings.DATA_ROOTS = [tmp_path]
    client = running_session("ID30A-1", "MX-1111", "id30a1-1")
    location = tmp_path / "mx1111" / "RAW_DATA" / "sample1" / "oscillation"
    (location / "sub").mkdir(parents=True)
    for index in range(1, 121):
        (location / f"image_{index:04d}.cbf").write_bytes(b"x" * index)
    (location / "sub" / "master.h5").write_bytes(b"h5" * 50)

    response = client.post(
        "/api/v1/datasets/",
        {
            "proposal": "MX-1111",
            "visit_id": "id30a1-1",
            "sample": "sample1",
            "name": "oscillation",
            "location": str(location),
            "kind": "raw",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    # The API answers before the worker registers the files.
    assert response.json()["complete"] is False

    status = wait_until_complete(client, response.json()["id"])
    assert status["file_count"] == 121
    assert status["size"] == sum(range(1, 121)) + 100
    assert Datafile.objects.filter(dataset_id=status["id"], path="sub/master.h5").exists()


def test_worker_registers_a_given_file_list(celery_worker_process, settings, tmp_path):
    settings.DATA_ROOTS = [tmp_path]
    client = running_session("BM29", "MX-2485", "bm29-1")
    files = [{"path": f"frames/frame_{i:05d}.h5", "size": 1000, "checksum": f"adler32:{i:08x}"} for i in range(2500)]
    body = {
        "instrument": "BM29",
        "time": timezone.now().isoformat(),
        "name": "acquisition",
        "location": str(tmp_path / "mx2485" / "acquisition"),
        "files": files,
    }

    first = client.post("/api/v1/datasets/", body, format="json")
    assert first.status_code == 201, first.json()
    wait_until_complete(client, first.json()["id"])
    # Storing the same location again updates the same dataset and registers no duplicate file.
    again = client.post("/api/v1/datasets/", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    status = wait_until_complete(client, first.json()["id"])
    assert status["file_count"] == 2500
    assert status["size"] == 2_500_000
    assert Datafile.objects.filter(dataset_id=status["id"]).count() == 2500
