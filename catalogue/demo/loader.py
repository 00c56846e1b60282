"""The short loader: people.yaml and the session files into the catalogue, through the ingestion
service as an instrument stores its datasets, after writing the files they lack."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from catalogue import locations
from catalogue.access import Actor
from catalogue.ingestion.services import DatasetRequest, IngestionError, dataset_store
from catalogue.models import (
    Dataset,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    Sample,
)
from catalogue.people.services import api_key_create
from catalogue.storage.services import dataset_archive
from techniques.validation import validate_parameters

from .files import make
from .reading import DemoError, DemoSession, read_people, read_sessions

HERE = Path(__file__).resolve().parent
PEOPLE_FILE = HERE / "people.yaml"
SESSIONS_DIR = HERE / "sessions"  # settings.DEMO_SESSIONS_DIR, when set, replaces it

API_KEY_INSTRUMENT = "ID30A-1"
API_KEY_NAME = f"Demo beamline key {API_KEY_INSTRUMENT}"
ADMIN = "admin"  # stores the datasets: staff may store them in any investigation

CREATED, UPDATED, EXISTING, WRITTEN = "created", "updated", "already there", "written"


@dataclass
class DemoReport:
    """What a run did: for each kind of object, how many were created, updated or already there."""

    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    api_key_secret: str = ""  # only on the run that created the key: it is never shown again

    def count(self, kind: str, outcome: str, number: int = 1) -> None:
        self.counts[kind][outcome] += number


def sessions_dir() -> Path:
    return Path(getattr(settings, "DEMO_SESSIONS_DIR", None) or SESSIONS_DIR)


def sessions() -> list[DemoSession]:
    """The demo sessions, read from their files."""
    return read_sessions(sessions_dir())


def _upsert(model, lookup: dict, values: dict) -> tuple[object, str]:
    """Create, or update only the fields that differ; returns (object, outcome)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values), CREATED
    if all(getattr(obj, key) == value for key, value in values.items()):
        return obj, EXISTING
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save()
    return obj, UPDATED


def _user(report: DemoReport, spec: dict, password: str):
    fields = {"is_staff": False, "is_superuser": False, **spec}
    user, outcome = _upsert(get_user_model(), {"username": fields.pop("username")}, fields)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
        if outcome == EXISTING:
            outcome = UPDATED
    report.count("users", outcome)
    return user


def _sample_parameters(session: DemoSession, name: str, parameters: dict) -> dict:
    validated = validate_parameters(parameters)
    if validated.errors:
        raise DemoError(f"{session.file}: sample {name}: {validated.errors}")
    return validated.values


def _write_missing(location: Path, files) -> int:
    written = 0
    for file in files:
        path = location / file.path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(make(file.maker, file.path, file.params))
            written += 1
    return written


def _load_session(report: DemoReport, session: DemoSession, users: dict, actor: Actor) -> None:
    investigation, outcome = _upsert(
        Investigation,
        {"name": session.proposal, "visit_id": session.visit_id},
        {
            "instrument": Instrument.objects.get(name=session.instrument),
            "title": session.title,
            "summary": session.summary,
            "start_date": session.start,
            "end_date": session.end,
            "release_date": session.release_date(),
        },
    )
    report.count("investigations", outcome)
    for username, role in session.members:
        _member, outcome = _upsert(
            InvestigationUser, {"investigation": investigation, "user": users[username], "role": role}, {}
        )
        report.count("investigation members", outcome)
    for name, description, parameters in session.samples:
        _sample, outcome = _upsert(
            Sample,
            {"investigation": investigation, "name": name},
            {"description": description, "parameters": _sample_parameters(session, name, parameters)},
        )
        report.count("samples", outcome)

    # The session's data folder, as settings.DATA_FOLDER_PATTERN gives it in the first data root
    # (e.g. <root>/visitor/mx1111/id30a1/20160404).
    folder = Path(locations.investigation_folders(investigation)[0])
    for dataset in session.datasets:
        location = folder / dataset.folder
        on_tape = Dataset.objects.filter(location=str(location), storage_status=Dataset.StorageStatus.ARCHIVED)
        written = 0 if on_tape.exists() else _write_missing(location, dataset.files)  # archived: not on disk
        report.count("files on disk", WRITTEN, written)
        report.count("files on disk", EXISTING, len(dataset.files) - written)
        fields = dict(dataset.fields)
        if "inputs" in fields:
            fields["inputs"] = [str(folder / input_folder) for input_folder in fields["inputs"]]
        request = DatasetRequest(
            name=dataset.name,
            location=str(location),
            proposal=session.proposal,
            visit_id=session.visit_id,
            **fields,
        )
        try:
            _dataset, created = dataset_store(actor=actor, request=request)
        except IngestionError as exc:
            raise DemoError(f"{session.file}: dataset {dataset.name} of {session.proposal}: {exc.errors}") from exc
        report.count("datasets", CREATED if created else EXISTING)


def _api_key(report: DemoReport) -> str:
    """Create the demo key once; returns its secret, or "" when it already exists."""
    instrument = Instrument.objects.get(name=API_KEY_INSTRUMENT)
    if InstrumentApiKey.objects.filter(instrument=instrument, name=API_KEY_NAME).exists():
        report.count("API keys", EXISTING)
        return ""
    _key, secret = api_key_create(instrument=instrument, name=API_KEY_NAME)
    report.count("API keys", CREATED)
    return secret


def _check_references(people: dict, demo_sessions: list[DemoSession]) -> None:
    """The users and instruments the sessions name are those of people.yaml."""
    usernames = {user["username"] for user in people["users"]}
    instruments = {instrument["name"] for instrument in people["instruments"]}
    for index, (username, instrument) in enumerate(people["scientists"]):
        if username not in usernames or instrument not in instruments:
            raise DemoError(f"{PEOPLE_FILE.name}: scientists[{index}]: unknown user or instrument")
    for session in demo_sessions:
        if session.instrument not in instruments:
            raise DemoError(f"{session.file}: instrument: {session.instrument!r} is not in {PEOPLE_FILE.name}")
        for index, (username, _role) in enumerate(session.members):
            if username not in usernames:
                raise DemoError(f"{session.file}: members[{index}].user: {username!r} is not in {PEOPLE_FILE.name}")


def load_demo(*, password: str) -> DemoReport:
    """Create or update the demo; all or nothing (files written before a failure stay, harmlessly).
    Every data file is read and checked before anything is written."""
    people, demo_sessions = read_people(PEOPLE_FILE), sessions()
    _check_references(people, demo_sessions)
    with transaction.atomic():
        report = DemoReport()
        users = {spec["username"]: _user(report, spec, password) for spec in people["users"]}
        for instrument in people["instruments"]:
            _instrument, outcome = _upsert(
                Instrument,
                {"name": instrument["name"]},
                {"full_name": instrument["full_name"], "description": instrument["description"]},
            )
            report.count("instruments", outcome)
        for username, instrument in people["scientists"]:
            _scientist, outcome = _upsert(
                InstrumentScientist,
                {"user": users[username], "instrument": Instrument.objects.get(name=instrument)},
                {},
            )
            report.count("instrument scientists", outcome)
        actor = Actor(user=users[ADMIN])
        for session in demo_sessions:
            _load_session(report, session, users, actor)
        report.api_key_secret = _api_key(report)
        # After the registrations this commit queues (run then when tasks are eager, as in `make run`).
        transaction.on_commit(lambda: _archive(report, demo_sessions))
    return report


def _archive(report: DemoReport, demo_sessions: list[DemoSession]) -> None:
    """Move the datasets the sessions list as archived to the archive (settings.STORAGE_ARCHIVE_ROOT),
    as the archiving schedule would have; those archived already stay so."""
    for session in demo_sessions:
        datasets = Dataset.objects.filter(
            investigation__name=session.proposal, investigation__visit_id=session.visit_id, name__in=session.archived
        )
        for dataset_id, status in datasets.order_by("pk").values_list("pk", "storage_status"):
            done = status == Dataset.StorageStatus.ONLINE and dataset_archive(
                dataset_id=dataset_id, reason="Archived by the schedule: the session ended years ago"
            )
            report.count("datasets archived", CREATED if done else EXISTING)


def account_roles() -> dict[str, list[str]]:
    """What each demo account may do, for the sign-in table."""
    people = read_people(PEOPLE_FILE)
    roles = {
        user["username"]: ["facility admin (staff, superuser)"] if user.get("is_staff") else []
        for user in people["users"]
    }
    for username, instrument in people["scientists"]:
        roles[username].append(f"instrument scientist of {instrument}")
    for session in sessions():
        for username, role in session.members:
            label = InvestigationUser.Role(role).label.lower()
            roles[username].append(f"{label} of {session.proposal} ({session.instrument})")
    return roles
