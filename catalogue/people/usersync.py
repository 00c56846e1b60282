"""Import proposals, sessions, participants and samples from the user office's export.

The export is JSON (docs/user-office-export.json) or CSV (docs/user-office-export.csv); the
README's "User-office sync" section documents both. One session of a proposal is one
investigation, found by (proposal, visit_id). The sync is idempotent: a second run changes
nothing. It creates and updates investigations, users, roles and samples; it removes roles the
user office no longer lists (audited), and never deletes investigations, users or samples.
"""

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalogue import locations
from catalogue.models import Instrument, Investigation, InvestigationUser, Sample, UserProfile
from catalogue.people.services import investigation_user_add, investigation_user_remove
from catalogue.policy.services import default_release_date, investigation_release_date_change

USER_FIELDS = ("email", "first_name", "last_name")
CSV_COLUMNS = ("proposal", "title", "visit_id", "instrument", "start", "end", "username", "role")


class SyncError(Exception):
    """A session of the export that cannot be imported; the others still are."""


@dataclass
class SyncReport:
    dry_run: bool = False
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (verb, kind, what)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = Counter(f"{verb} {kind}" for verb, kind, _ in self.changes)
        return dict(sorted(counts.items())) | {"errors": len(self.errors)}

    def lines(self) -> list[str]:
        signs = {"create": "+", "update": "~", "add": "+", "remove": "-"}
        lines = [f"{signs[verb]} {verb} {kind} {what}" for verb, kind, what in self.changes]
        lines += [f"! {error}" for error in self.errors]
        summary = ", ".join(f"{n} {key}" for key, n in self.counts().items()) if self.changes else "nothing to change"
        lines.append(("Dry run, nothing written: " if self.dry_run else "") + summary)
        return lines


# --- Reading the export ----------------------------------------------------------------------


def load_export(path: str | Path) -> list[dict]:
    """The proposals of a JSON or CSV export, in the JSON shape."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as stream:
            return proposals_from_csv(csv.DictReader(stream))
    return json.loads(path.read_text(encoding="utf-8"))["proposals"]


def proposals_from_csv(rows) -> list[dict]:
    """One row per session participant; an optional sample column adds a sample to the proposal."""
    proposals: dict[str, dict] = {}
    for number, row in enumerate(rows, start=2):
        missing = [column for column in CSV_COLUMNS if not (row.get(column) or "").strip()]
        if missing:
            raise SyncError(f"line {number}: empty {', '.join(missing)}")
        proposal = proposals.setdefault(
            row["proposal"], {"proposal": row["proposal"], "title": row["title"], "sessions": [], "samples": []}
        )
        session = next((s for s in proposal["sessions"] if s["visit_id"] == row["visit_id"]), None)
        if session is None:
            session = {key: row[key] for key in ("visit_id", "instrument", "start", "end")} | {"participants": []}
            if (row.get("data_folder") or "").strip():
                session["data_folder"] = row["data_folder"].strip()
            proposal["sessions"].append(session)
        person = {key: row.get(key) or "" for key in ("username", "role", "orcid", *USER_FIELDS)}
        session["participants"].append(person)
        sample = (row.get("sample") or "").strip()
        if sample and sample not in {s["name"] for s in proposal["samples"]}:
            proposal["samples"].append({"name": sample})
    return list(proposals.values())


# --- Writing ---------------------------------------------------------------------------------


def sync_file(path: str | Path, *, dry_run: bool = False) -> SyncReport:
    return sync(load_export(path), dry_run=dry_run)


def sync(proposals: list[dict], *, dry_run: bool = False) -> SyncReport:
    """Import every session; with dry_run, do it all and roll back, so the report is the plan."""
    report = SyncReport(dry_run=dry_run)
    users: dict[str, object] = {}
    with transaction.atomic():
        for proposal in proposals:
            for session in proposal.get("sessions", []):
                changes: list[tuple[str, str, str]] = []
                label = f"{proposal.get('proposal', '?')} {session.get('visit_id', '?')}"
                try:
                    with transaction.atomic():
                        _sync_session(proposal, session, users, changes)
                except (SyncError, KeyError, ValueError, TypeError) as exc:
                    report.errors.append(f"{label}: {_message(exc)}")
                    users.clear()  # users created in the rolled-back savepoint are gone
                    continue
                report.changes += changes
        if dry_run:
            transaction.set_rollback(True)
    return report


def _message(exc: Exception) -> str:
    return f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)


def _datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _sync_session(proposal: dict, session: dict, users: dict, changes: list) -> None:
    instrument = Instrument.objects.filter(name=session["instrument"]).first()
    if instrument is None:
        raise SyncError(f"unknown instrument {session['instrument']!r}")
    start, end = _datetime(session["start"]), _datetime(session["end"])
    if end < start:
        raise SyncError("the session ends before it starts")
    fields = {
        "title": proposal.get("title", ""),
        "summary": proposal.get("summary", ""),
        "instrument": instrument,
        "start_date": start,
        "end_date": end,
    }
    if "data_folder" in session:  # absent: the folder pattern, or what staff set
        fields["data_folder"] = _data_folder(session["data_folder"])
    investigation = _sync_investigation(proposal["proposal"], session["visit_id"], fields, changes)
    people = proposal.get("participants", []) + session.get("participants", [])
    wanted = {(_sync_user(person, users, changes), _role(person)) for person in people}
    _sync_roles(investigation, wanted, changes)
    for sample in proposal.get("samples", []) + session.get("samples", []):
        _sync_sample(investigation, sample, changes)


def _data_folder(value) -> str:
    """A session's own data folder: empty (the pattern's), or an absolute path inside a data root."""
    if not value:
        return ""
    try:
        folder = locations.normalise_location(value)
    except locations.PathRefused as exc:
        raise SyncError(f"data_folder {value!r} {exc}") from None
    if not locations.inside_data_roots(folder):
        raise SyncError(f"data_folder {value!r} is not inside a data root")
    return folder


def _sync_investigation(name: str, visit_id: str, fields: dict, changes: list) -> Investigation:
    investigation = Investigation.objects.filter(name=name, visit_id=visit_id).first()
    if investigation is None:
        investigation = Investigation.objects.create(
            name=name, visit_id=visit_id, release_date=default_release_date(fields["end_date"]), **fields
        )
        changes.append(("create", "investigation", str(investigation)))
        return investigation
    changed = [key for key, value in fields.items() if getattr(investigation, key) != value]
    if not changed:
        return investigation
    # A release date nobody moved follows the end date; one that staff changed stays.
    follows_end = investigation.release_date == default_release_date(investigation.end_date)
    for key in changed:
        setattr(investigation, key, fields[key])
    investigation.save()
    changes.append(("update", "investigation", f"{investigation} ({', '.join(changed)})"))
    if "end_date" in changed and follows_end:
        release_date = default_release_date(investigation.end_date)
        investigation_release_date_change(
            investigation=investigation,
            release_date=release_date,
            actor=None,
            reason="User-office sync: the session's end date changed.",
        )
        changes.append(("update", "release date", f"{investigation} ({release_date:%Y-%m-%d})"))
    return investigation


def _role(person: dict) -> str:
    role = person.get("role") or InvestigationUser.Role.PARTICIPANT
    if role not in InvestigationUser.Role.values:
        raise SyncError(f"unknown role {role!r} (one of {', '.join(InvestigationUser.Role.values)})")
    return role


def _sync_user(person: dict, users: dict, changes: list):
    username = person["username"].strip()
    if not username:
        raise SyncError("a participant without username")
    if username in users:
        return users[username]
    values = {key: person[key].strip() for key in USER_FIELDS if (person.get(key) or "").strip()}
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = get_user_model().objects.create_user(username=username, password=None, **values)
        changes.append(("create", "user", username))
    else:
        changed = [key for key, value in values.items() if getattr(user, key) != value]
        if changed:
            for key in changed:
                setattr(user, key, values[key])
            user.save(update_fields=changed)
            changes.append(("update", "user", f"{username} ({', '.join(changed)})"))
    orcid = (person.get("orcid") or "").strip()
    if orcid and not UserProfile.objects.filter(user=user, orcid=orcid).exists():
        UserProfile.objects.update_or_create(user=user, defaults={"orcid": orcid})
        changes.append(("update", "user", f"{username} (orcid)"))
    users[username] = user
    return user


def _sync_roles(investigation: Investigation, wanted: set, changes: list) -> None:
    existing = {(m.user, m.role): m for m in investigation.members.select_related("user")}
    for user, role in sorted(wanted - existing.keys(), key=lambda pair: (pair[0].username, pair[1])):
        investigation_user_add(investigation=investigation, user=user, role=role, actor=None)
        changes.append(("add", "role", f"{user.username} as {role} in {investigation}"))
    for key in sorted(existing.keys() - wanted, key=lambda pair: (pair[0].username, pair[1])):
        investigation_user_remove(member=existing[key], actor=None)
        changes.append(("remove", "role", f"{key[0].username} as {key[1]} from {investigation}"))


def _sync_sample(investigation: Investigation, data: dict, changes: list) -> None:
    values = {"description": data.get("description", ""), "parameters": data.get("parameters", {})}
    sample = Sample.objects.filter(investigation=investigation, name=data["name"]).first()
    if sample is None:
        Sample.objects.create(investigation=investigation, name=data["name"], **values)
        changes.append(("create", "sample", f"{data['name']} in {investigation}"))
        return
    changed = [key for key, value in values.items() if getattr(sample, key) != value]
    if changed:
        for key in changed:
            setattr(sample, key, values[key])
        sample.save(update_fields=changed)
        changes.append(("update", "sample", f"{sample.name} in {investigation} ({', '.join(changed)})"))
