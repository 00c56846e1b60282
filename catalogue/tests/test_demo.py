"""`manage.py load_demo`: the demo catalogue from the seeds, loaded twice.

The demo uses the real definition files (synced into the vocabulary by migrate), so a name they
drop or rename fails here. Release dates are fixed: the embargoed sessions are released in
2028-2029, after which test_one_session_released_the_others_under_embargo needs new dates.
"""

import os
import re
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalogue import demo
from catalogue.access import Actor, investigation_q
from catalogue.models import (
    Datafile,
    Dataset,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    ParameterValue,
    Sample,
)
from catalogue.people.services import api_key_authenticate
from catalogue.policy.services import default_release_date

pytestmark = pytest.mark.django_db

# settings.DATA_FOLDER_PATTERN's default, the layout of the seeds' facility.
DEFAULT_FOLDER_PATTERN = "{root}/visitor/{proposal}/{instrument}/{start:%Y%m%d}"


@pytest.fixture
def demo_root(settings, tmp_path, monkeypatch) -> Path:
    """The data root, with the facility's own folder pattern (the default), as `make run` has them."""
    settings.DATA_ROOTS = [tmp_path / "demo"]
    settings.DATA_FOLDER_PATTERN = DEFAULT_FOLDER_PATTERN
    settings.STORAGE_ARCHIVE_ROOT = tmp_path / "archive"  # the demo archives some datasets
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    return tmp_path / "demo"


@pytest.fixture
def load_demo(demo_root, django_capture_on_commit_callbacks):
    """Runs the command and the file registrations it queues; returns what it printed."""

    def run() -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("load_demo", stdout=out)
        return out.getvalue()

    return run


def snapshot() -> dict:
    """Every row the demo writes, by model, in a comparable form."""
    return {
        "users": sorted(get_user_model().objects.values_list("username", "is_staff", "is_superuser", "password")),
        "instruments": sorted(Instrument.objects.values_list("name", "full_name", "description")),
        "scientists": sorted(InstrumentScientist.objects.values_list("user__username", "instrument__name")),
        "investigations": sorted(
            Investigation.objects.values_list("name", "visit_id", "title", "start_date", "end_date", "release_date")
        ),
        "members": sorted(InvestigationUser.objects.values_list("investigation__name", "user__username", "role")),
        "samples": sorted((s.name, s.description, str(s.parameters)) for s in Sample.objects.all()),
        "datasets": list(
            Dataset.objects.order_by("location").values_list(
                "location",
                "name",
                "kind",
                "definition__code",
                "start_date",
                "end_date",
                "parameters",
                "file_count",
                "size",
                "complete",
            )
        ),  # fmt: skip
        "inputs": sorted(Dataset.inputs.through.objects.values_list("from_dataset__location", "to_dataset__location")),
        "parameter_values": ParameterValue.objects.count(),
        "datafiles": sorted(Datafile.objects.values_list("dataset__location", "path", "size", "modified")),
        "api_keys": sorted(InstrumentApiKey.objects.values_list("instrument__name", "name", "digest")),
    }


def test_a_second_run_changes_nothing(load_demo, demo_root):
    first_output = load_demo()
    first = snapshot()
    files = sorted(path for path in demo_root.rglob("*") if path.is_file())
    mtimes = [path.stat().st_mtime_ns for path in files]

    second_output = load_demo()

    assert snapshot() == first
    assert sorted(path for path in demo_root.rglob("*") if path.is_file()) == files
    assert [path.stat().st_mtime_ns for path in files] == mtimes
    assert len(first["investigations"]) == 4 and len(first["datasets"]) == 34
    assert "34 created" in first_output and "34 already there" in second_output
    # The archived scans' files were written, then moved to the archive: the second run leaves them there.
    on_tape = sum(1 for path in (demo_root.parent / "archive").rglob("*") if path.is_file())
    assert f"{len(files) + on_tape} written" in first_output
    assert f"{len(files) + on_tape} already there" in second_output


def test_the_api_key_is_created_and_shown_once(load_demo):
    first_output = load_demo()
    secret = re.search(r"^  ([0-9a-f]{8}\.\S+)$", first_output, re.MULTILINE).group(1)
    key = api_key_authenticate(secret=secret)
    assert key is not None and key.instrument.name == "ID30A-1" and key.name == demo.API_KEY_NAME

    second_output = load_demo()

    assert secret not in second_output
    assert "exists already" in second_output and "/admin/catalogue/instrumentapikey/add/" in second_output
    assert InstrumentApiKey.objects.count() == 1


def test_the_integration_links_to_the_oscillation(load_demo):
    load_demo()

    integration = Dataset.objects.get(definition__code="MX_INTEGRATION")
    oscillation = Dataset.objects.get(definition__code="MX_OSCILLATION")
    assert list(integration.inputs.all()) == [oscillation]
    assert integration.kind == Dataset.Kind.PROCESSED and integration.sample.name == "AFAMIN-rev1-B5-1"
    assert integration.parameters["MXAutoprocIntegration_space_group"] == "C 1 2 1"
    assert integration.parameters["MXAutoprocIntegrationScaling_outer_resolution_limit_high"] == 2.25
    assert oscillation.name == "AFAMIN-rev1-B5-1_1_1719747"
    # Its 1,640 images, and 4 PNGs of its gallery: 2 crystal snapshots, 2 diffraction thumbnails.
    assert oscillation.parameters["MX_numberOfImages"] == 1640 == oscillation.file_count - 4
    assert oscillation.datafiles.filter(path__endswith=".cbf").count() == 1640
    assert oscillation.start_date == demo.at("2016-04-04 19:34:16")


def test_processing_chains_follow_the_definitions(load_demo):
    load_demo()

    for dataset in Dataset.objects.filter(kind=Dataset.Kind.PROCESSED).select_related("definition"):
        input_codes = set(dataset.inputs.values_list("definition__code", flat=True))
        assert input_codes and input_codes <= set(dataset.definition.input_definitions), dataset.name
    subtraction = Dataset.objects.get(name="sample_folded_HlyA1_12 subtract")
    assert sorted(subtraction.inputs.values_list("name", flat=True)) == [
        "buffer_after_folded_HlyA1_12 integrate",
        "buffer_after_folded_HlyA1_25 integrate",
        "sample_folded_HlyA1_12 integrate",
    ]
    tomogram = Dataset.objects.get(definition__code="ET_TOMOGRAM")
    chain = [tomogram.definition.code]
    while tomogram.inputs.exists():
        tomogram = tomogram.inputs.get()
        chain.append(tomogram.definition.code)
    assert chain == ["ET_TOMOGRAM", "ET_CTF", "ET_MOTION_CORRECTION", "ET_TILT_SERIES"]


def test_every_file_on_disk_is_registered(load_demo, demo_root):
    load_demo()

    datasets = list(Dataset.objects.all())
    assert {Path(d.location).is_relative_to(demo_root) for d in datasets} == {True}
    archived = [d.name for d in datasets if d.storage_status == Dataset.StorageStatus.ARCHIVED]
    assert len(archived) == 3 and {name.split("_")[0] for name in archived} == {"mesh-AFAMIN-rev1-B5-1"}
    for dataset in datasets:
        # An archived dataset's files are in the archive (settings.STORAGE_ARCHIVE_ROOT/<id>), not on disk.
        where = demo_root.parent / "archive" / str(dataset.pk) if dataset.name in archived else dataset.location
        on_disk = {
            os.path.relpath(os.path.join(folder, name), where): os.path.getsize(os.path.join(folder, name))
            for folder, _subfolders, names in os.walk(where)
            for name in names
        }
        registered = dict(dataset.datafiles.values_list("path", "size"))
        assert on_disk and registered == on_disk, dataset.name
        assert dataset.complete and dataset.file_count == len(on_disk) and dataset.size == sum(on_disk.values())


def test_units_are_converted_to_the_vocabulary(load_demo):
    load_demo()

    scan = Dataset.objects.filter(definition__code="TOMO_SCAN").first()
    assert scan.parameters["InstrumentMonochromator_energy"] == 77  # sent as {"value": 77, "unit": "keV"}
    assert scan.parameters["TOMO_detector_distance"] == 1440  # sent in m, kept in mm
    assert scan.parameters["TOMO_pixel_size"] == 2.51
    acquisition = Dataset.objects.get(name="sample_folded_HlyA1_06")
    assert acquisition.parameters["SAXS_temperature"] == pytest.approx(283.15)  # 10 degC
    tilt_series = Dataset.objects.get(name="TS_01")
    assert tilt_series.parameters["EM_voltage"] == 300  # sent as 300000 V
    sample = Sample.objects.get(name="LADAF-2020-27_left_lung")
    assert sample.parameters["SamplePatient_id"] == "LADAF-2020-27" and sample.parameters["SamplePatient_age"] == 94


def test_one_session_released_the_others_under_embargo(load_demo):
    load_demo()

    now = timezone.now()
    assert list(Investigation.objects.filter(release_date__lte=now).values_list("name", flat=True)) == ["MX-1111"]
    assert Investigation.objects.filter(release_date__gt=now).count() == 3
    visible_to_anonymous = Investigation.objects.filter(investigation_q(Actor()))
    assert list(visible_to_anonymous.values_list("name", flat=True)) == ["MX-1111"]
    mx = Investigation.objects.get(name="MX-1111")
    assert mx.release_date == default_release_date(mx.end_date)


def test_the_demo_accounts_sign_in_with_their_roles(load_demo, client, settings):
    output = load_demo()

    assert f"{settings.PORTAL_URL}/accounts/login/" in output
    for username in ["admin", "alice", "bob", "carol"]:
        assert client.login(username=username, password="demo"), username
        assert username in output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not get_user_model().objects.filter(is_staff=True).exclude(username="admin").exists()
    assert sorted(
        InvestigationUser.objects.filter(user__username="alice").values_list("investigation__name", "role")
    ) == [
        ("MX-1111", "pi"),
        ("MX-2601", "pi"),
    ]
    assert list(InvestigationUser.objects.filter(user__username="bob").values_list("investigation__name", "role")) == [
        ("MX-2485", "participant")
    ]
    assert list(InstrumentScientist.objects.values_list("user__username", "instrument__name")) == [("carol", "ID30A-1")]


def test_demo_password_comes_from_the_environment(load_demo, client, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-demo")
    output = load_demo()

    assert client.login(username="alice", password="s3cret-demo")
    assert not client.login(username="alice", password="demo")
    assert "s3cret-demo" not in output

    monkeypatch.delenv("DEMO_PASSWORD")
    output = load_demo()

    assert client.login(username="alice", password="demo")
    assert "4 updated" in output  # the users' passwords


def test_the_demo_follows_the_folder_pattern(load_demo, demo_root, settings):
    """Each session's files go where the facility's pattern puts its data, whatever the pattern."""
    load_demo()
    mx = Dataset.objects.filter(investigation__name="MX-1111")
    assert mx.filter(location__startswith=f"{demo_root}/visitor/mx1111/id30a1/20160404/").count() == mx.count() == 13
    settings.DATA_FOLDER_PATTERN = "{root}/{instrument_name}/{proposal_name}/{visit_id}"
    Dataset.objects.all().delete()
    load_demo()
    for investigation in Investigation.objects.select_related("instrument"):
        folder = demo_root / investigation.instrument.name / investigation.name / investigation.visit_id
        assert investigation.datasets.exists()
        assert {Path(d.location).is_relative_to(folder) for d in investigation.datasets.all()} == {True}


def test_a_pattern_outside_the_data_roots_is_refused(load_demo, settings, tmp_path):
    settings.DATA_FOLDER_PATTERN = str(tmp_path / "elsewhere" / "{proposal}")

    with pytest.raises(CommandError, match="is not a folder inside the data folder of"):
        load_demo()

    assert not Dataset.objects.exists() and not Investigation.objects.exists()


def test_the_addresses_printed_follow_the_portal_url(load_demo, settings):
    """`make run PORT=8123` serves on 8123, and the demo's sign-in, API and admin links say so."""
    settings.PORTAL_URL = "http://127.0.0.1:8123"

    first_output, second_output = load_demo(), load_demo()

    assert "Sign in at http://127.0.0.1:8123/accounts/login/," in first_output
    assert "' http://127.0.0.1:8123/api/v1/datasets/" in first_output
    assert "at http://127.0.0.1:8123/admin/catalogue/instrumentapikey/add/" in second_output
    assert ":8000" not in first_output + second_output


NEW_SESSION = """
    proposal: SC-9999
    visit_id: bm29-20240110
    instrument: BM29
    title: A session added as a data file
    summary: Two datasets and their files, with no Python change.
    start: "2024-01-10 09:00"
    end: "2024-01-11 09:00"
    release: "2024-06-01 09:00"
    members: [{user: bob, role: local_contact}]
    samples: [{name: lysozyme, description: Hen egg-white lysozyme, parameters: {Sample_protein_acronym: LYS}}]
    datasets:
      - name: lysozyme_05
        folder: RAW_DATA/lysozyme/lysozyme_05
        sample: lysozyme
        definition: SAXS_ACQUISITION
        start: "2024-01-10 10:00:00"
        end: "2024-01-10 10:00:25"
        parameters: {SAXS_sample_type: sample, SAXS_concentration: 5.0, SAXS_temperature: {value: 10.0, unit: degC}}
        files:
          - {path: lysozyme_05.h5, make: placeholder, kind: HDF5 (Bliss dataset), name: lysozyme_05}
          - each: {frame: {start: 0, step: 1, count: 3}}
            path: scan0001/frame_${frame:04d}.h5
            make: placeholder
            kind: HDF5 (frame ${number})
            name: lysozyme_05
      - name: lysozyme_05 integrate
        folder: PROCESSED_DATA/lysozyme/lysozyme_05/integrate
        sample: lysozyme
        kind: processed
        definition: SAXS_INTEGRATION
        inputs: [RAW_DATA/lysozyme/lysozyme_05]
        start: "2024-01-10 10:00:30"
        end: "2024-01-10 10:00:41"
        parameters: {SAXS_frames_averaged: 3}
        files:
          - path: gallery/lysozyme_05_Scattering.png
            make: plot
            curve: {shape: spheres, i0: 50.0, rg: 1.5, background: 0.02, q_step: 0.05, q_count: 100}
            view: log10
          - {path: gallery/lysozyme_05_Kratky.png, make: plot, points: [[0.1, 1.0], [0.2, 2.5], [0.3, 1.5]]}
"""


def test_a_new_session_file_is_loaded_with_no_python_change(load_demo, demo_root, settings, tmp_path):
    """A session is a data file: dropped into the sessions folder (settings.DEMO_SESSIONS_DIR), it loads."""
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    (sessions / "sc-9999.yaml").write_text(textwrap.dedent(NEW_SESSION))
    settings.DEMO_SESSIONS_DIR = sessions

    output = load_demo()

    investigation = Investigation.objects.get()
    assert (investigation.name, investigation.instrument.name) == ("SC-9999", "BM29")
    assert investigation.start_date == demo.at("2024-01-10 09:00")
    assert list(investigation.members.values_list("user__username", "role")) == [("bob", "local_contact")]
    acquisition, integration = investigation.datasets.order_by("start_date")
    assert acquisition.parameters["SAXS_temperature"] == pytest.approx(283.15)  # sent in degC
    assert list(integration.inputs.all()) == [acquisition] and integration.kind == Dataset.Kind.PROCESSED
    assert sorted(acquisition.datafiles.values_list("path", flat=True)) == [
        "lysozyme_05.h5",
        "scan0001/frame_0000.h5",
        "scan0001/frame_0001.h5",
        "scan0001/frame_0002.h5",
    ]
    frame = Path(acquisition.location) / "scan0001" / "frame_0002.h5"
    assert frame.read_text() == "demo placeholder for a HDF5 (frame 3) file: lysozyme_05\n"
    png = Path(integration.location) / "gallery" / "lysozyme_05_Kratky.png"
    assert png.read_bytes().startswith(b"\x89PNG") and integration.file_count == 2
    assert "2 created" in output and "bob     local contact of SC-9999 (BM29)" in output


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("make: placeholder", "make: hologram"), "datasets[0].files[0].make: unknown file maker 'hologram'"),
        (("title: A session added as a data file\n", ""), "title: missing"),
        (("    definition: SAXS_ACQUISITION\n", ""), "datasets[0].definition: missing"),
        (("kind: HDF5 (Bliss dataset), ", ""), "datasets[0].files[0].kind: missing"),
        (("view: log10", "view: sideways"), "datasets[1].files[0].view.name: unknown view 'sideways'"),
        (("frame_${frame:04d}", "frame_${frames:04d}"), "datasets[0].files[1]: unknown variable"),
    ],
)
def test_a_broken_session_file_is_refused_naming_the_file_and_the_field(demo_root, settings, tmp_path, change, error):
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    text = textwrap.dedent(NEW_SESSION)
    assert change[0] in text
    (sessions / "broken.yaml").write_text(text.replace(change[0], change[1], 1))
    settings.DEMO_SESSIONS_DIR = sessions

    with pytest.raises(demo.DemoError) as refused:
        demo.load_demo(password="demo")

    assert str(refused.value).startswith(f"broken.yaml: {error}")
    assert not get_user_model().objects.exists() and not Investigation.objects.exists()
    assert not demo_root.exists()  # checked before anything is written


@pytest.mark.parametrize(
    ("environment", "portal_url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"PORT": "8123", "PORTAL_URL": "https://data.facility.eu/"}, "https://data.facility.eu"),
    ],
)
def test_the_portal_url_comes_from_port_unless_set(environment, portal_url, tmp_path):
    """settings.PORTAL_URL as a fresh process reads it from the environment (as `make run` sets PORT)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PORT", "PORTAL_URL")}
    code = "import django; django.setup(); from django.conf import settings; print(settings.PORTAL_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == portal_url
