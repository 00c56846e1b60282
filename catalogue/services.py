"""Writes to the catalogue. Each function owns its transaction; side effects go out on commit."""

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from techniques.models import ParameterType
from techniques.validation import check_definition, validate_parameters
from techniques.vocabulary import current_vocabulary

from . import locations
from .access import Actor, can_write_investigation, investigation_q
from .models import (
    AuditEntry,
    Datafile,
    Dataset,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    ParameterValue,
    PendingRegistration,
    Sample,
)

logger = logging.getLogger(__name__)

FILE_BATCH = 5000


class IngestionError(Exception):
    """Every problem of a request, by field: {"location": "...", "parameters": {"MX_x": "..."}}."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


class NotFound(Exception):
    """The object is missing, or hidden from the caller: both answer the same."""


def default_release_date(end_date: datetime) -> datetime:
    return end_date + relativedelta(years=settings.EMBARGO_YEARS)


# --- API keys --------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 suffices (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *, instrument, name: str, expires: datetime | None = None, actor=None
) -> tuple[InstrumentApiKey, str]:
    """Create a key and return it with its secret, which is never stored nor shown again."""
    prefix = secrets.token_hex(4)
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = InstrumentApiKey.objects.create(
            instrument=instrument, name=name, prefix=prefix, digest=_digest(secret), expires=expires
        )
        audit_record(
            actor=actor,
            action="api_key.create",
            target=key,
            summary=f"API key {key} created for {instrument}",
            details={"instrument": instrument.name, "expires": expires.isoformat() if expires else None},
        )
    return key, secret


# InstrumentApiKey.last_used is kept to this precision: a key that stores a dataset every few
# milliseconds would otherwise write (and commit) its row on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def api_key_authenticate(*, secret: str) -> InstrumentApiKey | None:
    prefix = secret.split(".", 1)[0]
    try:  # on every API request: get() builds no ORDER BY; the instrument's row is not needed
        key = InstrumentApiKey.objects.get(prefix=prefix)
    except InstrumentApiKey.DoesNotExist:
        return None
    if not secrets.compare_digest(key.digest, _digest(secret)):
        return None
    now = timezone.now()
    if key.revoked or (key.expires and key.expires <= now):
        return None
    if key.last_used is None or now - key.last_used >= LAST_USED_PRECISION:
        InstrumentApiKey.objects.filter(pk=key.pk).update(last_used=now)
    return key


def api_key_revoke(*, key: InstrumentApiKey, actor=None) -> None:
    with transaction.atomic():
        if InstrumentApiKey.objects.filter(pk=key.pk, revoked__isnull=True).update(revoked=timezone.now()):
            audit_record(
                actor=actor, action="api_key.revoke", target=key, summary=f"API key {key} of {key.instrument} revoked"
            )


# --- Access and the data policy: every change is audited ---------------------------------------

RELEASE_NOTICE_DAYS = 30


def audit_record(*, actor, action: str, target, summary: str, reason: str = "", details: dict | None = None) -> None:
    """One AuditEntry; actor None means the system (e.g. the user-office sync)."""
    AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        summary=summary[:500],
        reason=reason,
        details=details or {},
    )


def investigation_release_date_change(
    *, investigation: Investigation, release_date: datetime, actor, reason: str
) -> Investigation:
    """Move the date from which an investigation is public; who, when and why go to the audit log."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required to change a release date")
    with transaction.atomic():
        investigation = Investigation.objects.select_for_update().get(pk=investigation.pk)
        previous = investigation.release_date
        if previous == release_date:
            return investigation
        investigation.release_date = release_date
        # The participants are told again before the new date.
        investigation.release_notice_sent = None
        investigation.save(update_fields=["release_date", "release_notice_sent", "modified"])
        audit_record(
            actor=actor,
            action="release_date.change",
            target=investigation,
            summary=f"Release date of {investigation} moved from {previous:%Y-%m-%d} to {release_date:%Y-%m-%d}",
            reason=reason,
            details={"from": previous.isoformat(), "to": release_date.isoformat()},
        )
    return investigation


def investigation_user_add(*, investigation: Investigation, user, role: str, actor) -> InvestigationUser:
    with transaction.atomic():
        member, created = InvestigationUser.objects.get_or_create(investigation=investigation, user=user, role=role)
        if created:
            audit_record(
                actor=actor,
                action="investigation_user.add",
                target=investigation,
                summary=f"{user} added as {member.get_role_display()} to {investigation}",
                details={"user": user.username, "role": role},
            )
    return member


def investigation_user_remove(*, member: InvestigationUser, actor) -> None:
    with transaction.atomic():
        if InvestigationUser.objects.filter(pk=member.pk).delete()[0]:
            audit_record(
                actor=actor,
                action="investigation_user.remove",
                target=member.investigation,
                summary=f"{member.user} removed as {member.get_role_display()} from {member.investigation}",
                details={"user": member.user.username, "role": member.role},
            )


def instrument_scientist_add(*, instrument: Instrument, user, actor) -> InstrumentScientist:
    with transaction.atomic():
        scientist, created = InstrumentScientist.objects.get_or_create(instrument=instrument, user=user)
        if created:
            audit_record(
                actor=actor,
                action="instrument_scientist.add",
                target=instrument,
                summary=f"{user} made instrument scientist of {instrument}",
                details={"user": user.username},
            )
    return scientist


def instrument_scientist_remove(*, scientist: InstrumentScientist, actor) -> None:
    with transaction.atomic():
        if InstrumentScientist.objects.filter(pk=scientist.pk).delete()[0]:
            audit_record(
                actor=actor,
                action="instrument_scientist.remove",
                target=scientist.instrument,
                summary=f"{scientist.user} no longer instrument scientist of {scientist.instrument}",
                details={"user": scientist.user.username},
            )


def release_notices_send() -> int:
    """E-mail the participants of investigations that become public within RELEASE_NOTICE_DAYS.

    Each investigation is marked in the same transaction (rows locked, skipped if another run holds
    them), and the mails go out when it commits: running it again sends nothing twice.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Investigation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                release_notice_sent__isnull=True,
                release_date__gt=now,
                release_date__lte=now + timedelta(days=RELEASE_NOTICE_DAYS),
            )
            .select_related("instrument")
        )
        members = (
            InvestigationUser.objects.filter(investigation__in=due)
            .exclude(user__email="")
            .select_related("user")
            .order_by("investigation_id", "user_id")
        )
        recipients: dict[int, dict[int, str]] = {}
        for member in members:
            recipients.setdefault(member.investigation_id, {})[member.user_id] = member.user.email
        messages = [
            (
                f"{investigation.name} {investigation.visit_id}: your data becomes public on "
                f"{timezone.localtime(investigation.release_date):%d %B %Y}",
                _release_notice_body(investigation),
                None,
                [email],
            )
            for investigation in due
            for email in recipients.get(investigation.pk, {}).values()
        ]
        Investigation.objects.filter(pk__in=[i.pk for i in due]).update(release_notice_sent=now)
        transaction.on_commit(lambda: send_mass_mail(messages))
    return len(messages)


def _release_notice_body(investigation: Investigation) -> str:
    return (
        f"The data of {investigation.name} (session {investigation.visit_id} on {investigation.instrument}), "
        f"{investigation.title or 'untitled'}, becomes public on "
        f"{timezone.localtime(investigation.release_date):%d %B %Y}: from then on anyone can find, read and "
        f"download it in the {settings.FACILITY_NAME} data portal.\n\n"
        "If the embargo should be extended, please ask the facility's data office before that date.\n"
    )


# --- Ingestion -------------------------------------------------------------------------------


@dataclass
class DatasetRequest:
    """The generic storeDataset contract, already shaped by the serializer."""

    name: str
    location: str
    proposal: str = ""
    visit_id: str = ""
    instrument: str = ""
    time: datetime | None = None
    sample: str = ""
    kind: str = Dataset.Kind.RAW
    definition: str = ""
    description: str = ""
    start_date: datetime | None = None
    end_date: datetime | None = None
    parameters: dict | None = None
    inputs: list | None = None  # locations (str) or ids (int) of earlier datasets
    files: list | None = None  # [{"path", "size", "checksum", "modified"}] or None to scan


def _find_investigation(request: DatasetRequest, errors: dict) -> Investigation | None:
    investigations = Investigation.objects.select_related("instrument")
    if request.proposal:
        investigations = investigations.filter(name=request.proposal)
        if request.visit_id:
            investigations = investigations.filter(visit_id=request.visit_id)
    elif request.instrument and request.time:
        investigations = investigations.filter(
            instrument__name=request.instrument, start_date__lte=request.time, end_date__gte=request.time
        )
    else:
        errors["investigation"] = "give the proposal (and visit id), or the instrument and the time"
        return None
    if request.instrument:
        investigations = investigations.filter(instrument__name=request.instrument)
    found = list(investigations.order_by()[:2])  # unordered: only how many match matters
    if len(found) == 1:
        return found[0]
    if not found:
        errors["investigation"] = f"no investigation {_describe(request)}"
    else:
        errors["investigation"] = f"several investigations match {_describe(request)}; give the visit id"
    return None


def _describe(request: DatasetRequest) -> str:
    if request.proposal:
        return request.proposal + (f" / {request.visit_id}" if request.visit_id else "")
    return f"on {request.instrument} at {request.time.isoformat()}"


def _find_inputs(actor: Actor, references: list, errors: dict) -> list[Dataset]:
    """Earlier datasets by id or location; those the actor may not read answer as missing."""
    if not references:
        return []
    ids = [ref for ref in references if isinstance(ref, int)]
    locations = [os.path.normpath(ref) for ref in references if isinstance(ref, str)]
    found = list(
        Dataset.objects.filter(investigation_q(actor, "investigation__"))
        .filter(Q(pk__in=ids) | Q(location__in=locations))
        .select_related("definition")
        .only("pk", "location", "definition__code")
    )
    known = {d.pk for d in found} | {d.location for d in found}
    missing = [str(ref) for ref in ids + locations if ref not in known]
    if missing:
        errors["inputs"] = f"no dataset at {', '.join(missing)}"
    return found


def _validate(actor: Actor, request: DatasetRequest) -> tuple[dict, dict]:
    """Resolve and check everything before writing anything; returns (resolved, errors)."""
    errors: dict = {}
    resolved: dict = {}
    try:
        location = locations.normalise_location(request.location)
    except locations.PathRefused as exc:
        errors["location"] = f"'{request.location}' {exc}"
        location = ""
    resolved["location"] = location

    investigation = _find_investigation(request, errors)
    if investigation is not None and not can_write_investigation(actor, investigation):
        # Answer like a missing investigation: a key must not learn what other instruments hold.
        errors["investigation"] = f"no investigation {_describe(request)}"
        investigation = None
    resolved["investigation"] = investigation
    if location and investigation is not None and not locations.location_in_investigation(location, investigation):
        errors["location"] = _refused_location(location, investigation)
    elif location and investigation is None and not locations.inside_data_roots(location):
        roots = ", ".join(str(root) for root in settings.DATA_ROOTS)
        errors["location"] = f"'{location}' is not inside a data root ({roots})"
    if request.files:
        _normalise_file_paths(request.files, errors)
    if location and "location" not in errors and "files" not in errors and request.files:
        escaping = locations.escaping_files(location, [item["path"] for item in request.files])
        if escaping:
            errors["files"] = f"real path outside the dataset's location: {', '.join(escaping[:10])}"

    vocabulary = current_vocabulary()
    definition = None
    if request.definition:
        definition = vocabulary.definitions.get(request.definition)
        if definition is None:
            errors["definition"] = f"unknown definition '{request.definition}'"
        elif definition.kind != request.kind:
            errors["kind"] = f"definition {definition.code} is for {definition.kind} datasets"
    resolved["definition"] = definition

    sent = request.parameters or {}
    validated = validate_parameters(sent, vocabulary)
    resolved["inputs"] = _find_inputs(actor, request.inputs or [], errors)
    if investigation is not None and "inputs" not in errors:
        outside = [
            ref
            for ref in request.inputs or []
            if isinstance(ref, str) and not locations.location_in_investigation(os.path.normpath(ref), investigation)
        ]
        if outside:
            errors["inputs"] = f"not inside the data folder of {investigation}: {', '.join(outside)}"
    broken = {"parameters": dict(validated.errors)} if validated.errors else {}
    if definition is not None:
        inputs = [(d.location, d.definition.code if d.definition_id else None) for d in resolved["inputs"]]
        for field, problems in check_definition(definition, validated, inputs).items():
            broken[field] = {**broken.get(field, {}), **problems} if field == "parameters" else problems
    lenient = (
        investigation is not None
        and (investigation.instrument.validation or settings.INGESTION_VALIDATION) == Instrument.Validation.LENIENT
    )
    if lenient:
        # Keep what was sent, as sent when it could not be read, and flag the dataset.
        unread = {name: sent[name] for name in validated.errors if name in sent and name not in validated.values}
        resolved["warnings"] = _warnings(broken, sent, resolved["inputs"])
        resolved["stored_parameters"] = {**validated.values, **unread}
    else:
        for field, problems in broken.items():
            errors.setdefault(field, problems)
        resolved["warnings"] = []
        resolved["stored_parameters"] = validated.values
    resolved["parameters"] = validated
    if location and location in {d.location for d in resolved["inputs"]}:
        errors["inputs"] = "a dataset cannot be its own input"

    if request.start_date and request.end_date and request.end_date < request.start_date:
        errors["end_date"] = "is before start_date"
    return resolved, errors


def _normalise_file_paths(files: list[dict], errors: dict) -> None:
    """Each file's path, normalised in place (`a//b/./c` -> `a/b/c`); the refused ones by index."""
    refused = {}
    for index, item in enumerate(files):
        try:
            item["path"] = locations.normalise_file_path(item.get("path"))
        except locations.PathRefused as exc:
            refused[str(index)] = {"path": str(exc)}
    if refused:
        errors["files"] = refused


def _refused_location(location: str, investigation: Investigation) -> str:
    """The one answer for every location the investigation may not hold: outside its folder, a link
    leading out of it, or a folder of another investigation's dataset (hidden or not, the same
    words, so that nobody learns where other sessions' data lie)."""
    folders = " or ".join(locations.investigation_folders(investigation))
    return f"'{location}' is not a folder inside the data folder of {investigation} ({folders})"


def _warnings(broken: dict, sent: dict, inputs: list[Dataset]) -> list[dict]:
    """Dataset.warnings: what lenient validation let through, as [{"field", "value", "rule"}]."""
    warnings = [
        {"field": f"parameters.{name}", "value": sent.get(name), "rule": rule}
        for name, rule in broken.get("parameters", {}).items()
    ]
    if "inputs" in broken:
        warnings.append({"field": "inputs", "value": [d.location for d in inputs], "rule": broken["inputs"]})
    return warnings


def _write_parameter_values(dataset_id: int, values: dict, types: dict[str, ParameterType], created: bool) -> None:
    """The searchable values in the typed table, writing only what changed: one INSERT for a new
    dataset; for a stored one, the DELETE of the parameters no longer sent, then an upsert that
    rewrites a row only when its value differs. Plain SQL: bulk_create built a model instance per
    value, a third of the writes' time."""
    numeric = ParameterType.ValueType.NUMERIC
    ids = [types[name].pk for name in values]
    numbers = [value if types[name].value_type == numeric else None for name, value in values.items()]
    texts = [
        "" if number is not None else str(value)[:1024] for number, value in zip(numbers, values.values(), strict=True)
    ]
    if connection.vendor == "postgresql":
        # Arrays: four parameters, where psycopg would parse a statement of hundreds anew each time.
        kept, kept_params = " AND parameter_type_id <> ALL(%s)", [ids]
        rows = "SELECT %s, * FROM unnest(%s::bigint[], %s::double precision[], %s::text[])"
        rows_params = [dataset_id, ids, numbers, texts]
    else:
        kept = f" AND parameter_type_id NOT IN ({', '.join(['%s'] * len(ids))})" if ids else ""
        kept_params = ids
        rows = f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(ids))}"
        rows_params = [value for row in zip(ids, numbers, texts, strict=True) for value in (dataset_id, *row)]
    table = ParameterValue._meta.db_table
    with connection.cursor() as cursor:
        if not created:  # a new dataset has none yet
            cursor.execute(f"DELETE FROM {table} WHERE dataset_id = %s{kept}", [dataset_id, *kept_params])
        if ids:
            cursor.execute(
                f"INSERT INTO {table} AS stored (dataset_id, parameter_type_id, numeric_value, text_value) {rows}"
                " ON CONFLICT (dataset_id, parameter_type_id) DO UPDATE"
                " SET numeric_value = EXCLUDED.numeric_value, text_value = EXCLUDED.text_value"
                " WHERE stored.numeric_value IS DISTINCT FROM EXCLUDED.numeric_value"
                " OR stored.text_value <> EXCLUDED.text_value",
                rows_params,
            )


# The request's fields that find the investigation.
_INVESTIGATION_FIELDS = {"proposal", "visit_id", "instrument", "time"}


def dataset_store(*, actor: Actor, request: DatasetRequest, shape_errors: dict | None = None) -> tuple[Dataset, bool]:
    """Validate and upsert a dataset by location; returns (dataset, created).

    Raises IngestionError with every problem by field; nothing is written then. A list of up to
    settings.INGESTION_INLINE_FILES files is registered in the same transaction; a longer one, or a
    scan of the location (files=None), is queued for the worker when the transaction commits.
    shape_errors: the fields the caller's serializer refused (left at their defaults in request),
    reported with the problems found here, so that one answer names them all.
    """
    resolved, errors = _validate(actor, request)
    if shape_errors:
        if shape_errors.keys() & _INVESTIGATION_FIELDS:
            errors.pop("investigation", None)  # looked up without the refused field: not a finding
        errors |= shape_errors  # the serializer's reason wins for a field both name
    if errors:
        raise IngestionError(errors)
    try:
        return _store(request, resolved)
    except IntegrityError:
        # Another request inserted the same location between our read and our insert, and ours
        # was rolled back: once more, now as an update of theirs.
        return _store(request, resolved)


@transaction.atomic
def _store(request: DatasetRequest, resolved: dict) -> tuple[Dataset, bool]:
    """dataset_store's writes, in one transaction."""
    investigation: Investigation = resolved["investigation"]
    sample = None
    if request.sample:
        sample, _ = Sample.objects.get_or_create(investigation=investigation, name=request.sample)
    fields = {
        "investigation": investigation,
        "sample": sample,
        "name": request.name,
        "kind": request.kind,
        "definition": resolved["definition"],
        "description": request.description,
        "start_date": request.start_date,
        "end_date": request.end_date,
        "parameters": resolved["stored_parameters"],
        "warnings": resolved["warnings"],
        "complete": False,
    }
    files = request.files
    inline = files is not None and len(files) <= settings.INGESTION_INLINE_FILES
    if inline:
        # As listed, once per path (the last listing wins); a new dataset is inserted complete.
        rows = list({row[0]: row for row in map(_datafile_row, files)}.values())
        registered = {"file_count": len(rows), "size": sum(row[1] for row in rows), "complete": True}
    dataset, created = _upsert_dataset(resolved["location"], fields, registered if inline else {})
    types = resolved["parameters"].types
    searchable = {name: value for name, value in resolved["parameters"].values.items() if types[name].searchable}
    _write_parameter_values(dataset.pk, searchable, types, created)
    if created:
        dataset.inputs.add(*resolved["inputs"])  # one INSERT, none without inputs; set() reads first
    else:
        dataset.inputs.set(resolved["inputs"])
    if inline and created:
        _insert_new_datafiles(dataset.pk, rows)
    elif inline:
        _register(dataset, rows)
    else:
        # The outbox row commits with the dataset; the message only names the dataset.
        PendingRegistration.objects.create(dataset=dataset, files=files)
        transaction.on_commit(lambda: registration_send(dataset_id=dataset.pk))
    return dataset, created


def _upsert_dataset(location: str, fields: dict, new_fields: dict) -> tuple[Dataset, bool]:
    """Insert (with new_fields too) or update by location. A concurrent insert of the same location
    makes ours fail with IntegrityError, which aborts the transaction: dataset_store then runs it
    again. (A savepoint around the insert cost two more round trips on every new dataset, for a
    rare race.)"""
    try:
        existing = Dataset.objects.select_for_update().get(location=location)
    except Dataset.DoesNotExist:
        return Dataset.objects.create(location=location, **{**fields, **new_fields}), True
    if existing.investigation_id != fields["investigation"].pk:
        raise IngestionError({"location": _refused_location(location, fields["investigation"])})
    for key, value in fields.items():
        setattr(existing, key, value)
    existing.save()
    return existing, False


# --- File registration: in the worker, or with the dataset for a short list ---------------------


def _scan(dataset: Dataset, skipped: list[str]):
    """The files found under the dataset's location, as registration takes them. Links whose real
    path leaves the location are not followed but added to `skipped`; so is the whole location when
    its real path has left its investigation's folder since it was stored."""
    if not locations.dataset_is_in_place(dataset):
        skipped.append(".")
        return
    zone = timezone.get_current_timezone()
    for kind, found in locations.scan(dataset.location):
        if kind == "skipped":
            skipped.append(found)
            continue
        path, size, mtime = found
        yield {"path": path, "size": size, "modified": datetime.fromtimestamp(mtime, tz=zone)}


def _datafile_row(item: dict) -> tuple:
    """(path, size, checksum, modified) of a file as given or found on disk, its path normalised."""
    modified = item.get("modified")
    if isinstance(modified, str):
        modified = datetime.fromisoformat(modified)
    if modified is not None and timezone.is_naive(modified):
        modified = timezone.make_aware(modified)  # as Django would store it
    path = locations.normalise_file_path(item["path"])
    return path, int(item.get("size") or 0), item.get("checksum") or "", modified


# How many of the paths a scan skipped are named on the dataset's status.
SKIPPED_NAMED = 20


def datafiles_register(*, dataset_id: int, files: list | None = None) -> Dataset | None:
    """Bulk-insert the dataset's files (given, or found on disk), then update counts and size.
    A file already registered gets the new size, checksum and modification time. A scan skips
    what leads out of the location, and says so in the dataset's warnings."""
    with transaction.atomic():
        try:
            dataset = (
                Dataset.objects.select_for_update(of=("self",))
                .select_related("investigation__instrument")
                .only(
                    "location",
                    "warnings",
                    "investigation__data_folder",
                    "investigation__name",
                    "investigation__visit_id",
                    "investigation__start_date",
                    "investigation__end_date",
                    "investigation__instrument__name",
                )
                .get(pk=dataset_id)
            )
        except Dataset.DoesNotExist:
            return None
        skipped: list[str] = []
        _register(dataset, map(_datafile_row, files if files is not None else _scan(dataset, skipped)))
        if files is None:
            _warn_skipped(dataset, skipped)
    return dataset


def _warn_skipped(dataset: Dataset, skipped: list[str]) -> None:
    """Replace the scan's warning on the dataset (kept with lenient validation's)."""
    warnings = [w for w in dataset.warnings if w.get("field") != "files"]
    if skipped == ["."]:
        warnings.append(
            {
                "field": "files",
                "value": dataset.location,
                "rule": "the location's real path left its investigation's folder: nothing registered",
            }
        )
    elif skipped:
        warnings.append(
            {
                "field": "files",
                "value": sorted(skipped)[:SKIPPED_NAMED],
                "rule": f"{len(skipped)} links lead outside the dataset's location: not registered",
            }
        )
    if warnings != dataset.warnings:
        dataset.warnings = warnings
        dataset.save(update_fields=["warnings"])


def _register(dataset: Dataset, rows) -> None:
    """Upsert the (path, size, checksum, modified) rows as the dataset's files, then count them all
    and mark it complete. The caller holds the dataset's row lock."""
    if connection.vendor == "postgresql":
        _copy_datafiles(dataset.pk, rows)
    else:
        rows = iter(rows)  # islice over a list would start again from its head: an endless loop
        for batch in iter(lambda: list(islice(rows, FILE_BATCH)), []):
            _insert_datafiles(dataset.pk, batch)
    totals = Datafile.objects.filter(dataset_id=dataset.pk).aggregate(count=Count("id"), size=Sum("size"))
    dataset.file_count = totals["count"] or 0
    dataset.size = totals["size"] or 0
    dataset.complete = True
    dataset.save(update_fields=["file_count", "size", "complete", "modified"])


def _insert_new_datafiles(dataset_id: int, rows: list[tuple]) -> None:
    """The files of a dataset that has none yet, rows unique by path: one INSERT."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        _insert_datafiles(dataset_id, rows)
        return
    paths, sizes, checksums, modified = (list(column) for column in zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Datafile._meta.db_table} (dataset_id, path, size, checksum, modified)"
            " SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::varchar[], %s::timestamptz[])",
            [dataset_id, paths, sizes, checksums, modified],
        )


def _copy_datafiles(dataset_id: int, rows) -> None:
    """PostgreSQL: COPY into a temporary table, then one upsert; about twice bulk_create's rate,
    which builds a model instance per file. The table lives as long as the connection and is emptied
    at each commit: creating and dropping it for each dataset cost more than registering 100 files."""
    table = Datafile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS datafile_upload"
            " (n serial, path varchar(1024), size bigint, checksum varchar(128), modified timestamptz)"
            " ON COMMIT DELETE ROWS"
        )
        with cursor.copy("COPY datafile_upload (path, size, checksum, modified) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # DISTINCT ON: a path listed twice is stored once, as its last listing says.
        cursor.execute(
            f"INSERT INTO {table} (dataset_id, path, size, checksum, modified)"
            " SELECT DISTINCT ON (path) %s, path, size, checksum, modified FROM datafile_upload"
            " ORDER BY path, n DESC"
            " ON CONFLICT (dataset_id, path) DO UPDATE"
            " SET size = EXCLUDED.size, checksum = EXCLUDED.checksum, modified = EXCLUDED.modified",
            [dataset_id],
        )
        # Emptied now too: a caller's transaction may register several datasets.
        cursor.execute("DELETE FROM datafile_upload")


def _insert_datafiles(dataset_id: int, batch: list[tuple]) -> None:
    Datafile.objects.bulk_create(
        [
            Datafile(dataset_id=dataset_id, path=path, size=size, checksum=checksum, modified=modified)
            # A path listed twice is stored once, as its last listing says.
            for path, size, checksum, modified in {row[0]: row for row in batch}.values()
        ],
        update_conflicts=True,
        unique_fields=["dataset", "path"],
        update_fields=["size", "checksum", "modified"],
    )


# --- The registration outbox: sent on commit, drained by the worker, sent again if lost ----------


def registration_send(*, dataset_id: int) -> bool:
    """Queue the registration of what is pending for the dataset; False if the broker could not be
    reached. Nothing is lost then: the rows stay, and registrations_resend sends them again."""
    try:
        _send_registration(dataset_id)
    except KombuOperationalError:
        logger.warning("Registration of dataset %s not queued: broker unreachable; to be sent again.", dataset_id)
        return False
    return True


def _send_registration(dataset_id: int) -> None:
    from .tasks import register_datafiles  # tasks imports this module

    register_datafiles.apply_async((dataset_id,))


def registration_run(*, dataset_id: int) -> Dataset | None:
    """Register the dataset's pending file lists (or scans) and delete them, in one transaction.
    Idempotent: a message delivered again finds nothing pending and returns None."""
    with transaction.atomic():
        # Locked: a second delivery at the same time waits here, then finds the rows gone.
        pending = list(
            PendingRegistration.objects.select_for_update()
            .filter(dataset_id=dataset_id)
            .order_by("pk")
            .values_list("pk", "files")
        )
        dataset = None
        for _, files in pending:
            dataset = datafiles_register(dataset_id=dataset_id, files=files)
        if pending:
            PendingRegistration.objects.filter(pk__in=[pk for pk, _ in pending]).delete()
    return dataset


def registrations_resend(*, older_than: timedelta) -> int:
    """Send again the registrations pending for longer than older_than: their message was lost with
    the broker, or is held by a worker killed mid-task until the broker's visibility timeout.
    Returns how many datasets; raises the broker's error if it cannot be reached."""
    now = timezone.now()
    stale = PendingRegistration.objects.filter(sent__lt=now - older_than)
    dataset_ids = sorted(set(stale.values_list("dataset_id", flat=True)))
    sent: list[int] = []
    try:
        for dataset_id in dataset_ids:
            _send_registration(dataset_id)
            sent.append(dataset_id)
    finally:
        if sent:
            stale.filter(dataset_id__in=sent).update(sent=now, attempts=F("attempts") + 1)
    if sent:
        logger.warning("Sent again the registration of %d dataset(s): %s", len(sent), sent[:20])
    return len(sent)
