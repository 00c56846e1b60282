"""Shared fixtures of the catalogue tests.

The world is small and explicit: two instruments (ID30 and BM29), on ID30 an embargoed and a
released investigation, one person for each role, one API key per instrument, and a test
vocabulary whose names start with TEST_ so that no test depends on the real definition files.
Dataset locations lie under a temporary data root (settings.DATA_ROOTS is overridden for every
test).
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import ExtractYear
from django.utils import timezone
from rest_framework.test import APIClient

from catalogue.access import Actor
from catalogue.ingestion.services import DatasetRequest
from catalogue.models import (
    Datafile,
    Dataset,
    DatasetTally,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    ParameterValue,
    Sample,
)
from catalogue.people.services import api_key_create
from techniques.models import DatasetDefinition, ParameterType, Technique

DATASETS_URL = "/api/v1/datasets/"

# --- Settings ---------------------------------------------------------------------------------


# Each investigation's folder in the tests: <data root>/<proposal>, e.g. <tmp>/data/mx1 for MX-1.
TEST_FOLDER_PATTERN = "{root}/{proposal}"


@pytest.fixture(autouse=True)
def data_root(settings, tmp_path) -> Path:
    """The data folder of MX-1 (the `investigation` fixture), where most tests store their datasets:
    <tmp>/data/mx1, inside the only data root <tmp>/data. Other investigations' folders are its
    siblings (investigation_folder)."""
    root = tmp_path / "data"
    root.mkdir()
    settings.DATA_ROOTS = [root]
    settings.DATA_FOLDER_PATTERN = TEST_FOLDER_PATTERN
    folder = root / "mx1"
    folder.mkdir()
    return folder


@pytest.fixture
def archive_root(settings, tmp_path) -> Path:
    """The filesystem archive ("tape") of the test, with no mount delay and few restore retries."""
    root = tmp_path / "archive"
    settings.STORAGE_BACKEND = "filesystem"
    settings.STORAGE_ARCHIVE_ROOT = root
    settings.STORAGE_RESTORE_DELAY = 0
    settings.STORAGE_RESTORE_RETRIES = 2
    return root


def proposal_folder(data_root: Path, proposal: str) -> Path:
    """The data folder of a proposal's investigation under TEST_FOLDER_PATTERN (MX-1's: data_root)."""
    return data_root.parent / "".join(c for c in proposal.lower() if c.isalnum())


def investigation_folder(data_root: Path, investigation) -> Path:
    """The data folder of another investigation than MX-1, beside data_root."""
    return proposal_folder(data_root, investigation.name)


# --- Vocabulary -------------------------------------------------------------------------------


@pytest.fixture
def technique(db) -> Technique:
    technique, _ = Technique.objects.get_or_create(code="test-tech", defaults={"name": "Test technique"})
    return technique


def parameter_type(name: str, value_type: str, unit: str = "", technique=None) -> ParameterType:
    """A vocabulary entry with exactly this type and unit, whatever the definition files say."""
    parameter, _ = ParameterType.objects.update_or_create(
        name=name, defaults={"label": name, "value_type": value_type, "unit": unit, "technique": technique}
    )
    return parameter


@pytest.fixture
def vocabulary(technique) -> dict[str, ParameterType]:
    numeric, string = ParameterType.ValueType.NUMERIC, ParameterType.ValueType.STRING
    entries = [
        parameter_type("TEST_energy", numeric, "keV", technique),
        parameter_type("TEST_resolution", numeric, "angstrom", technique),
        parameter_type("TEST_count", numeric, "", technique),
        parameter_type("TEST_detector", string, "", technique),
        parameter_type("TEST_flag", ParameterType.ValueType.BOOLEAN, "", technique),
        parameter_type("TEST_time", ParameterType.ValueType.DATETIME, "", technique),
    ]
    return {entry.name: entry for entry in entries}


@pytest.fixture
def raw_definition(technique) -> DatasetDefinition:
    definition, _ = DatasetDefinition.objects.get_or_create(
        code="TEST_raw", defaults={"label": "Test raw", "kind": "raw", "technique": technique}
    )
    return definition


@pytest.fixture
def processed_definition(technique, raw_definition) -> DatasetDefinition:
    definition, _ = DatasetDefinition.objects.get_or_create(
        code="TEST_processed",
        defaults={
            "label": "Test processed",
            "kind": "processed",
            "technique": technique,
            "input_definitions": [raw_definition.code],
        },
    )
    return definition


# --- Instruments, investigations ------------------------------------------------------------


@pytest.fixture
def instrument(db) -> Instrument:
    return Instrument.objects.create(name="ID30", full_name="MX beamline")


@pytest.fixture
def other_instrument(db) -> Instrument:
    return Instrument.objects.create(name="BM29", full_name="BioSAXS beamline")


def make_investigation(instrument, name="MX-1", visit_id="v1", *, released=False, days_ago=10) -> Investigation:
    now = timezone.now()
    start = now - timedelta(days=days_ago)
    return Investigation.objects.create(
        name=name,
        visit_id=visit_id,
        title=f"Investigation {name}",
        instrument=instrument,
        start_date=start,
        end_date=start + timedelta(days=1),
        release_date=now - timedelta(days=1) if released else now + timedelta(days=365),
    )


@pytest.fixture
def investigation(instrument) -> Investigation:
    """Embargoed (released next year)."""
    return make_investigation(instrument, "MX-1", "v1")


@pytest.fixture
def released_investigation(instrument) -> Investigation:
    return make_investigation(instrument, "MX-0", "v1", released=True, days_ago=2000)


@pytest.fixture
def other_investigation(other_instrument) -> Investigation:
    """Embargoed, on the other instrument."""
    return make_investigation(other_instrument, "SAXS-1", "v1")


# --- People and keys -------------------------------------------------------------------------


def make_user(username: str, **extra):
    """No password (tests log in with force_login): hashing one costs ~0.3 s per user."""
    return get_user_model().objects.create_user(username=username, password=None, **extra)


@pytest.fixture
def participant(investigation, released_investigation):
    """A user of both investigations on ID30 (neither staff nor scientist)."""
    user = make_user("participant")
    InvestigationUser.objects.create(user=user, investigation=investigation, role=InvestigationUser.Role.PARTICIPANT)
    InvestigationUser.objects.create(user=user, investigation=released_investigation)
    return user


@pytest.fixture
def other_user(db):
    return make_user("other")


@pytest.fixture
def scientist(instrument):
    user = make_user("scientist")
    InstrumentScientist.objects.create(user=user, instrument=instrument)
    return user


@pytest.fixture
def other_scientist(other_instrument):
    user = make_user("other-scientist")
    InstrumentScientist.objects.create(user=user, instrument=other_instrument)
    return user


@pytest.fixture
def staff(db):
    return make_user("admin", is_staff=True)


@pytest.fixture
def api_key(instrument):
    """(key, secret) of ID30."""
    return api_key_create(instrument=instrument, name="MXCuBE on ID30")


@pytest.fixture
def other_api_key(other_instrument):
    """(key, secret) of BM29."""
    return api_key_create(instrument=other_instrument, name="BsxCuBE on BM29")


# --- Clients ---------------------------------------------------------------------------------


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def user_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def instrument_client(api_key) -> APIClient:
    """Acts for ID30 with its API key."""
    return key_client(api_key[1])


# --- Ingestion helpers -----------------------------------------------------------------------


def store_request(data_root: Path, **fields) -> DatasetRequest:
    """A valid request for MX-1/v1 unless fields say otherwise; a relative location lies in the
    folder of the proposal (data_root for MX-1)."""
    values = {"name": "scan 1", "location": "scan1", "proposal": "MX-1", "visit_id": "v1"}
    values.update(fields)
    if not values["location"].startswith("/"):
        values["location"] = str(proposal_folder(data_root, values["proposal"] or "MX-1") / values["location"])
    return DatasetRequest(**values)


def key_actor(api_key) -> Actor:
    return Actor(api_key=api_key[0])


def make_dataset(investigation, location: str, *, sample=None, files=0, **fields) -> Dataset:
    """A dataset written directly (not through ingestion), with `files` datafiles of 10 bytes."""
    fields.setdefault("name", Path(location).name)
    dataset = Dataset.objects.create(investigation=investigation, location=location, sample=sample, **fields)
    Datafile.objects.bulk_create(Datafile(dataset=dataset, path=f"f{i:03}.h5", size=10) for i in range(files))
    if files:
        dataset.file_count, dataset.size, dataset.complete = files, 10 * files, True
        dataset.save(update_fields=["file_count", "size", "complete"])  # as registration does
    return dataset


def make_sample(investigation, name="lysozyme") -> Sample:
    return Sample.objects.create(investigation=investigation, name=name)


def counts() -> dict[str, int]:
    """What ingestion can write, to check that a rejected request wrote nothing."""
    return {
        "samples": Sample.objects.count(),
        "datasets": Dataset.objects.count(),
        "parameter_values": ParameterValue.objects.count(),
        "datafiles": Datafile.objects.count(),
        "inputs": Dataset.inputs.through.objects.count(),
    }


def tally_counts() -> dict[tuple, int]:
    """The dataset tallies that count something: {(investigation, definition, year): datasets}."""
    rows = DatasetTally.objects.exclude(datasets=0).values_list("investigation_id", "definition_id", "year", "datasets")
    return {tuple(row[:3]): row[3] for row in rows}


def live_counts() -> dict[tuple, int]:
    """What the tallies should say: a GROUP BY of the datasets (years in the current time zone)."""
    rows = (
        Dataset.objects.order_by()
        .values_list("investigation_id", "definition_id", ExtractYear("start_date"))
        .annotate(n=Count("id"))
    )
    return {tuple(row[:3]): row[3] for row in rows}
