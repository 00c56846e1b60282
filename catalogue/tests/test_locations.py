"""Locations bound to their investigation's folder, real paths, links, and the files served.

The test pattern puts each investigation's folder at <tmp>/data/<proposal> (conftest): MX-1's is
data_root, MX-0's and SAXS-1's are its siblings.
"""

import os
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from catalogue import locations
from catalogue.ingestion.registration import datafiles_register
from catalogue.ingestion.services import IngestionError, dataset_store
from catalogue.models import Datafile, Dataset, Investigation
from catalogue.people.usersync import sync
from techniques.models import DatasetDefinition

from .conftest import (
    DATASETS_URL,
    counts,
    investigation_folder,
    key_actor,
    key_client,
    make_dataset,
    store_request,
    user_client,
)

PASSWD = Path("/etc/passwd")


@pytest.fixture
def world(investigation, released_investigation, other_investigation, vocabulary, raw_definition):
    return investigation


def post(client, data_root, **fields):
    body = {"proposal": "MX-1", "visit_id": "v1", "name": "scan", "location": str(data_root / "scan1")}
    return client.post(DATASETS_URL, {**body, **fields}, format="json")


# --- 1. A location lies inside its own investigation's folder ---------------------------------


def test_the_pattern_gives_each_investigation_its_folder(world, settings, data_root, other_investigation):
    settings.DATA_FOLDER_PATTERN = "{root}/visitor/{proposal}/{instrument}/{start:%Y%m%d}"
    start = timezone.localtime(other_investigation.start_date)
    assert locations.investigation_folders(other_investigation) == [
        f"{data_root.parent}/visitor/saxs1/bm29/{start:%Y%m%d}"
    ]
    Investigation.objects.filter(pk=other_investigation.pk).update(data_folder=f"{data_root.parent}/bm29/inhouse/")
    other_investigation.refresh_from_db()
    assert locations.investigation_folders(other_investigation) == [f"{data_root.parent}/bm29/inhouse"]


@pytest.mark.parametrize(
    "where",
    ["another session's folder", "a new folder of another session", "the data root", "the investigation's folder"],
)
def test_a_key_cannot_store_a_folder_of_another_investigation(world, api_key, data_root, instrument, where):
    """The probe's hole: with ID30's key, a dataset stored into MX-0 (public) with the location of
    MX-1's embargoed session, or of the data root, registered their files for anyone to read."""
    embargoed, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root))
    (data_root / "scan1" / "secret.h5").parent.mkdir(parents=True, exist_ok=True)
    (data_root / "scan1" / "secret.h5").write_bytes(b"embargoed")
    location = {
        "another session's folder": embargoed.location,
        "a new folder of another session": str(data_root / "new"),
        "the data root": str(data_root.parent),
        "the investigation's folder": str(data_root.parent / "mx0"),
    }[where]
    before = counts()
    response = post(key_client(api_key[1]), data_root, proposal="MX-0", location=location)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"location"}
    assert response.json()["errors"]["location"] == (
        f"'{location}' is not a folder inside the data folder of MX-0 v1 ({data_root.parent / 'mx0'})"
    )
    assert counts() == before


def test_an_instrument_scientist_cannot_either(world, scientist, data_root, other_investigation):
    """Through the portal's session, staff of ID30 storing SAXS-1's folder (BM29) into MX-0."""
    folder = investigation_folder(data_root, other_investigation) / "scan"
    response = post(user_client(scientist), data_root, proposal="MX-0", location=str(folder))
    assert response.status_code == 400
    assert "is not a folder inside the data folder of MX-0 v1" in response.json()["errors"]["location"]


def test_an_admin_cannot_either(world, staff, data_root):
    response = post(user_client(staff), data_root, proposal="MX-0", location=str(data_root / "scan1"))
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"location"}


def test_a_folder_set_by_staff_replaces_the_pattern(world, api_key, data_root, investigation):
    inhouse = data_root.parent / "id30" / "inhouse"
    Investigation.objects.filter(pk=investigation.pk).update(data_folder=str(inhouse))
    actor = key_actor(api_key)
    dataset, created = dataset_store(actor=actor, request=store_request(data_root, location=str(inhouse / "a")))
    assert created and dataset.location == str(inhouse / "a")
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=actor, request=store_request(data_root, location=str(data_root / "b")))
    assert set(excinfo.value.errors) == {"location"}


def test_a_staff_folder_outside_the_data_roots_holds_nothing(world, api_key, data_root, investigation, tmp_path):
    Investigation.objects.filter(pk=investigation.pk).update(data_folder=str(tmp_path))
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, location=str(tmp_path / "x")))
    assert set(excinfo.value.errors) == {"location"}


def test_inputs_given_by_location_lie_in_the_folder_too(world, api_key, data_root, staff):
    from catalogue.access import Actor

    released, _ = dataset_store(actor=Actor(user=staff), request=store_request(data_root, proposal="MX-0"))
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, inputs=[released.location]))
    assert excinfo.value.errors == {"inputs": f"not inside the data folder of MX-1 v1: {released.location}"}
    # By id, a readable dataset of another session is a fine input (a merge of two sessions).
    dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root, inputs=[released.pk]))
    assert list(dataset.inputs.all()) == [released]


def test_the_admin_form_refuses_a_folder_outside_the_data_roots(world, investigation, tmp_path, data_root):
    from catalogue.admin import InvestigationAdminForm

    fields = {
        "name": investigation.name,
        "visit_id": investigation.visit_id,
        "instrument": investigation.instrument_id,
        "start_date": investigation.start_date,
        "end_date": investigation.end_date,
        "release_date": investigation.release_date,
        "release_date_reason": "unchanged",
    }
    form = InvestigationAdminForm({**fields, "data_folder": str(tmp_path / "x")}, instance=investigation)
    assert not form.is_valid() and "data_folder" in form.errors
    form = InvestigationAdminForm({**fields, "data_folder": f"{data_root}/inhouse/"}, instance=investigation)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["data_folder"] == f"{data_root}/inhouse"


def test_the_user_office_sets_a_session_folder(world, instrument, data_root, tmp_path):
    session = {"visit_id": "v9", "instrument": "ID30", "start": "2026-01-01T08:00:00+01:00"}
    session |= {"end": "2026-01-02T08:00:00+01:00", "data_folder": f"{data_root.parent}/id30/inhouse/x"}
    sync([{"proposal": "IH-1", "title": "In-house", "sessions": [session]}])
    assert Investigation.objects.get(name="IH-1").data_folder == f"{data_root.parent}/id30/inhouse/x"
    report = sync([{"proposal": "IH-2", "sessions": [session | {"visit_id": "v1", "data_folder": str(tmp_path)}]}])
    assert report.errors == [f"IH-2 v1: data_folder '{tmp_path}' is not inside a data root"]
    assert not Investigation.objects.filter(name="IH-2").exists()


# --- 2. Real paths and links -------------------------------------------------------------------


def test_a_location_that_links_out_is_refused(world, api_key, data_root):
    (data_root / "etc").symlink_to("/etc")
    before = counts()
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, location=str(data_root / "etc")))
    assert set(excinfo.value.errors) == {"location"}
    assert counts() == before


def test_a_location_that_links_into_another_session_is_refused(world, api_key, data_root, released_investigation):
    other = investigation_folder(data_root, released_investigation) / "scan"
    other.mkdir(parents=True)
    (data_root / "borrowed").symlink_to(other)
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, location=str(data_root / "borrowed")))
    assert set(excinfo.value.errors) == {"location"}


def test_a_scan_does_not_follow_links_out_and_says_so(world, api_key, data_root, django_capture_on_commit_callbacks):
    scan = data_root / "scan1"
    (scan / "sub").mkdir(parents=True)
    (scan / "image.jpg").write_bytes(b"jpeg")
    (scan / "sub" / "frame.h5").write_bytes(b"h5h5")
    (scan / "leak.jpg").symlink_to(PASSWD)
    (scan / "etc").symlink_to("/etc")
    (scan / "same.jpg").symlink_to(scan / "image.jpg")  # a link that stays inside is a file like any other
    with django_capture_on_commit_callbacks(execute=True):
        dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root))
    dataset.refresh_from_db()
    assert sorted(dataset.datafiles.values_list("path", flat=True)) == ["image.jpg", "same.jpg", "sub/frame.h5"]
    assert dataset.complete and dataset.file_count == 3
    assert dataset.warnings == [
        {
            "field": "files",
            "value": ["etc", "leak.jpg"],
            "rule": "2 links lead outside the dataset's location: not registered",
        }
    ]
    # Told on the dataset's status too.
    status = key_client(api_key[1]).get(f"{DATASETS_URL}{dataset.pk}/").json()
    assert status["warnings"] == dataset.warnings


def test_a_location_swapped_for_a_link_after_it_was_stored_registers_nothing(world, api_key, data_root, tmp_path):
    actor = key_actor(api_key)
    dataset, _ = dataset_store(actor=actor, request=store_request(data_root, files=[]))
    (data_root / "scan1").symlink_to("/etc")
    dataset = datafiles_register(dataset_id=dataset.pk)
    dataset.refresh_from_db()
    assert dataset.file_count == 0
    assert dataset.warnings[0]["rule"].startswith("the location's real path left its investigation's folder")


def test_a_given_file_that_links_out_is_refused(world, api_key, data_root):
    scan = data_root / "scan1"
    (scan / "linked").mkdir(parents=True)
    (scan / "leak.jpg").symlink_to(PASSWD)
    (scan / "outside").symlink_to("/etc")
    files = [{"path": "ok.cbf", "size": 1}, {"path": "leak.jpg", "size": 1}, {"path": "outside/passwd", "size": 1}]
    before = counts()
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=files))
    assert excinfo.value.errors == {"files": "real path outside the dataset's location: leak.jpg, outside/passwd"}
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../../etc/passwd", "must not contain '..'"),
        ("a/../../b", "must not contain '..'"),
        ("/etc/passwd", "must be relative to the dataset's location"),
        (".", "must name a file inside the dataset's location"),
        ("./", "must name a file inside the dataset's location"),
        ("a\x00b", "must be a non-empty relative path"),
        ("", "must be a non-empty relative path"),
    ],
)
def test_registered_paths_are_normalised_relative_paths(world, api_key, data_root, path, reason):
    files = [{"path": "fine.cbf", "size": 1}, {"path": path, "size": 1}]
    with pytest.raises(IngestionError) as excinfo:
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=files))
    assert excinfo.value.errors == {"files": {"1": {"path": reason}}}


def test_paths_are_stored_normalised(world, api_key, data_root):
    files = [{"path": "a//b/./c.cbf", "size": 1}, {"path": "./d.cbf", "size": 2}]
    dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=files))
    assert sorted(dataset.datafiles.values_list("path", flat=True)) == ["a/b/c.cbf", "d.cbf"]


# --- Serving a file re-checks its real path when it opens it -----------------------------------


@pytest.fixture
def gallery(world, released_investigation, data_root, technique):
    """A released dataset whose definition shows its JPEG images, one of them on disk."""
    definition = DatasetDefinition.objects.create(
        code="TEST_gallery", label="Gallery", kind="raw", technique=technique, views={"gallery": ["*.jpg"]}
    )
    folder = investigation_folder(data_root, released_investigation) / "scan"
    folder.mkdir(parents=True)
    (folder / "image.jpg").write_bytes(b"\xff\xd8jpeg")
    dataset = make_dataset(released_investigation, str(folder), definition=definition)
    return dataset


def image_url(dataset, path) -> str:
    datafile = Datafile.objects.create(dataset=dataset, path=path, size=1)
    return f"/datasets/{dataset.pk}/images/{datafile.pk}/"


def test_an_image_is_served(gallery):
    response = Client().get(image_url(gallery, "image.jpg"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xd8jpeg"


def test_a_link_out_is_never_served(gallery):
    """The probe read /etc/passwd anonymously through a registered leak.jpg -> /etc/passwd."""
    (Path(gallery.location) / "leak.jpg").symlink_to(PASSWD)
    response = Client().get(image_url(gallery, "leak.jpg"))
    assert response.status_code == 404
    assert b"root:" not in response.content


def test_a_link_made_after_registration_serves_nothing(gallery):
    url = image_url(gallery, "image.jpg")
    image = Path(gallery.location) / "image.jpg"
    image.unlink()
    image.symlink_to(PASSWD)
    assert Client().get(url).status_code == 404


def test_a_linked_folder_made_after_registration_serves_nothing(gallery):
    url = image_url(gallery, "sub/passwd.jpg")
    os.symlink("/etc", Path(gallery.location) / "sub")
    assert Client().get(url).status_code == 404


def test_a_dataset_whose_location_left_its_folder_serves_nothing(gallery, data_root):
    """Stored before locations were bound to their investigation (or moved since)."""
    url = image_url(gallery, "image.jpg")
    Dataset.objects.filter(pk=gallery.pk).update(location=str(data_root.parent / "elsewhere"))
    (data_root.parent / "elsewhere").mkdir()
    (data_root.parent / "elsewhere" / "image.jpg").write_bytes(b"\xff\xd8jpeg")
    assert Client().get(url).status_code == 404


# --- 3. The embedded default does not hang -----------------------------------------------------


def test_storing_a_file_list_twice_registers_it_once(world, instrument_client, data_root):
    """On SQLite, storing the README's example again looped for ever in the registration and kept
    the database locked (PostgreSQL takes another path). The suite runs this on both."""
    files = [{"path": f"img_{i:04d}.cbf", "size": 10} for i in range(12)]
    first = post(instrument_client, data_root, files=files)
    again = post(instrument_client, data_root, files=files)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["file_count"] == 12 and again.json()["complete"]
    assert Datafile.objects.count() == 12
