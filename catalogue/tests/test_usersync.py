"""The user-office sync: the example exports, idempotence, updates, the plan, what it never deletes."""

import copy
import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalogue import tasks
from catalogue.models import AuditEntry, Instrument, Investigation, InvestigationUser, Sample, UserProfile
from catalogue.people.usersync import sync, sync_file
from catalogue.policy.services import default_release_date, investigation_release_date_change

from .conftest import make_dataset

pytestmark = pytest.mark.django_db

DOCS = Path(django_settings.BASE_DIR) / "docs"
EXAMPLE_JSON = DOCS / "user-office-export.json"
EXAMPLE_CSV = DOCS / "user-office-export.csv"


@pytest.fixture
def beamline(db) -> Instrument:
    return Instrument.objects.create(name="ID30A-1")


@pytest.fixture
def export() -> list[dict]:
    return json.loads(EXAMPLE_JSON.read_text())["proposals"]


def roles(name="MX-2485", visit_id="id30a1-20260408") -> set[tuple[str, str]]:
    members = InvestigationUser.objects.filter(investigation__name=name, investigation__visit_id=visit_id)
    return set(members.values_list("user__username", "role"))


def test_the_example_export_imports(beamline):
    report = sync_file(EXAMPLE_JSON)
    assert report.errors == []
    assert report.counts() == {
        "add role": 5,
        "create investigation": 2,
        "create sample": 2,
        "create user": 3,
        "update user": 1,  # alice's ORCID
        "errors": 0,
    }
    first = Investigation.objects.get(name="MX-2485", visit_id="id30a1-20260408")
    assert first.instrument == beamline and first.title.startswith("Structure of afamin")
    assert first.release_date == default_release_date(first.end_date)
    assert roles() == {("alice", "pi"), ("dave", "co_proposer"), ("carol", "local_contact")}
    assert roles(visit_id="id30a1-20261112") == {("alice", "pi"), ("dave", "co_proposer")}
    alice = get_user_model().objects.get(username="alice")
    assert (alice.email, alice.get_full_name(), alice.has_usable_password()) == (
        "alice@example.org",
        "Alice Martin",
        False,
    )
    assert UserProfile.objects.get(user=alice).orcid == "0000-0002-1825-0097"
    assert Sample.objects.get(investigation=first).parameters == {"buffer": "20 mM HEPES pH 7.5"}
    assert AuditEntry.objects.filter(action="investigation_user.add", actor=None).count() == 5


def test_a_second_run_changes_nothing(beamline):
    sync_file(EXAMPLE_JSON)
    audit = AuditEntry.objects.count()
    report = sync_file(EXAMPLE_JSON)
    assert report.changes == [] and report.lines() == ["nothing to change"]
    assert AuditEntry.objects.count() == audit


def test_the_csv_export_imports_the_same_session(beamline):
    report = sync_file(EXAMPLE_CSV)
    assert report.errors == []
    assert roles() == {("alice", "pi"), ("carol", "local_contact")}
    assert list(Sample.objects.values_list("name", flat=True)) == ["AFAMIN-rev1-B5-1"]


def test_dry_run_shows_the_plan_and_writes_nothing(beamline, capsys):
    call_command("sync_user_office", str(EXAMPLE_JSON), "--dry-run")
    out = capsys.readouterr().out
    assert "+ create investigation MX-2485 id30a1-20260408" in out
    assert "+ add role alice as pi in MX-2485 id30a1-20260408" in out
    assert out.strip().splitlines()[-1].startswith("Dry run, nothing written: 5 add role, 2 create investigation")
    assert not Investigation.objects.exists() and not get_user_model().objects.exists()
    assert not AuditEntry.objects.exists()


def test_updates_follow_the_user_office(beamline, export):
    sync(export)
    changed = copy.deepcopy(export)
    proposal = changed[0]
    proposal["title"] = "Afamin, revised"
    proposal["participants"][1]["email"] = "dave@new.example.org"
    session = proposal["sessions"][0]
    session["end"] = "2026-04-10T08:00:00+02:00"
    session["participants"] = []  # carol is no longer the local contact
    proposal["samples"][0]["description"] = "puck B6"
    report = sync(changed)
    assert report.errors == []
    lines = report.lines()
    assert "~ update investigation MX-2485 id30a1-20260408 (title, end_date)" in lines
    assert "~ update user dave (email)" in lines
    assert "- remove role carol as local_contact from MX-2485 id30a1-20260408" in lines
    assert "~ update sample AFAMIN-rev1-B5-1 in MX-2485 id30a1-20260408 (description)" in lines
    first = Investigation.objects.get(visit_id="id30a1-20260408")
    assert first.release_date == default_release_date(first.end_date)  # followed the end date
    assert roles() == {("alice", "pi"), ("dave", "co_proposer")}
    assert get_user_model().objects.filter(username="carol").exists()  # users are never deleted
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"investigation_user.remove", "release_date.change"} <= actions


def test_a_release_date_staff_moved_stays(beamline, export, staff):
    sync(export)
    first = Investigation.objects.get(visit_id="id30a1-20260408")
    moved = timezone.now().replace(microsecond=0)
    investigation_release_date_change(investigation=first, release_date=moved, actor=staff, reason="Open")
    export[0]["sessions"][0]["end"] = "2026-04-10T08:00:00+02:00"
    sync(export)
    assert Investigation.objects.get(pk=first.pk).release_date == moved


def test_never_deletes_what_datasets_reference(beamline, export, data_root):
    sync(export)
    first = Investigation.objects.get(visit_id="id30a1-20260408")
    dataset = make_dataset(first, str(data_root / "scan"), sample=Sample.objects.get(investigation=first))
    export[0]["samples"] = []
    export[0]["sessions"] = export[0]["sessions"][1:]
    report = sync(export)
    assert report.errors == []
    dataset.refresh_from_db()
    assert dataset.sample.investigation == first


def test_a_bad_session_is_reported_and_the_others_imported(beamline, export):
    export[0]["sessions"][0]["instrument"] = "ID99"
    export[0]["sessions"][1]["participants"] = [{"username": "eve", "role": "boss"}]
    export.append(
        {
            "proposal": "MX-1",
            "sessions": [
                {"visit_id": "a", "instrument": "ID30A-1", "start": "2026-01-02T00:00", "end": "2026-01-01T00:00"},
                {"visit_id": "b", "instrument": "ID30A-1", "start": "2026-01-02T00:00"},
                {"visit_id": "c", "instrument": "ID30A-1", "start": "2026-01-02T00:00", "end": "2026-01-03T00:00"},
            ],
        }
    )
    report = sync(export)
    assert report.errors == [
        "MX-2485 id30a1-20260408: unknown instrument 'ID99'",
        "MX-2485 id30a1-20261112: unknown role 'boss' (one of pi, co_proposer, local_contact, participant)",
        "MX-1 a: the session ends before it starts",
        "MX-1 b: missing field 'end'",
    ]
    assert list(Investigation.objects.values_list("name", "visit_id")) == [("MX-1", "c")]
    assert not get_user_model().objects.filter(username__in=["alice", "eve"]).exists()


def test_command_fails_on_errors_and_unreadable_files(beamline, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("sync_user_office", str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"proposals": [{"proposal": "X", "sessions": [{"visit_id": "1"}]}]}))
    with pytest.raises(CommandError, match="1 session"):
        call_command("sync_user_office", str(broken))


def test_the_periodic_task_reads_the_configured_export(settings, beamline):
    settings.USER_OFFICE_EXPORT = ""
    assert tasks.sync_user_office.delay().get() is None
    settings.USER_OFFICE_EXPORT = str(EXAMPLE_JSON)
    assert tasks.sync_user_office.delay().get()["create investigation"] == 2
    assert tasks.sync_user_office.delay().get() == {"errors": 0}
