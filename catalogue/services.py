"""Writes to the catalogue. Each function owns its transaction; side effects go out on commit."""

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from techniques.models import DatasetDefinition, ParameterType
from techniques.validation import validate_parameters

from .access import Actor, can_write_investigation, investigation_q
from .models import Datafile, Dataset, InstrumentApiKey, Investigation, ParameterValue, Sample

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


def api_key_create(*, instrument, name: str, expires: datetime | None = None) -> tuple[InstrumentApiKey, str]:
    """Create a key and return it with its secret, which is never stored nor shown again."""
    prefix = secrets.token_hex(4)
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = InstrumentApiKey.objects.create(
        instrument=instrument, name=name, prefix=prefix, digest=_digest(secret), expires=expires
    )
    return key, secret


def api_key_authenticate(*, secret: str) -> InstrumentApiKey | None:
    prefix = secret.split(".", 1)[0]
    key = InstrumentApiKey.objects.select_related("instrument").filter(prefix=prefix).first()
    if key is None or not secrets.compare_digest(key.digest, _digest(secret)):
        return None
    now = timezone.now()
    if key.revoked or (key.expires and key.expires <= now):
        return None
    InstrumentApiKey.objects.filter(pk=key.pk).update(last_used=now)
    return key


def api_key_revoke(*, key: InstrumentApiKey) -> None:
    InstrumentApiKey.objects.filter(pk=key.pk, revoked__isnull=True).update(revoked=timezone.now())


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


def location_is_allowed(location: str) -> bool:
    path = Path(os.path.normpath(location))
    return path.is_absolute() and any(path.is_relative_to(root) for root in settings.DATA_ROOTS)


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
    found = list(investigations[:2])
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
    location = os.path.normpath(request.location) if request.location else ""
    if not location_is_allowed(location):
        roots = ", ".join(str(root) for root in settings.DATA_ROOTS)
        errors["location"] = f"'{request.location}' is not an absolute path inside a data root ({roots})"
    resolved["location"] = location

    investigation = _find_investigation(request, errors)
    if investigation is not None and not can_write_investigation(actor, investigation):
        # Answer like a missing investigation: a key must not learn what other instruments hold.
        errors["investigation"] = f"no investigation {_describe(request)}"
        investigation = None
    resolved["investigation"] = investigation

    definition = None
    if request.definition:
        definition = DatasetDefinition.objects.filter(code=request.definition).first()
        if definition is None:
            errors["definition"] = f"unknown definition '{request.definition}'"
        elif definition.kind != request.kind:
            errors["kind"] = f"definition {definition.code} is for {definition.kind} datasets"
    resolved["definition"] = definition

    validated = validate_parameters(request.parameters or {})
    if validated.errors:
        errors["parameters"] = validated.errors
    resolved["parameters"] = validated

    resolved["inputs"] = _find_inputs(actor, request.inputs or [], errors)
    if definition is not None and definition.input_definitions:
        allowed = set(definition.input_definitions)
        refused = [
            d.location for d in resolved["inputs"] if d.definition_id is None or d.definition.code not in allowed
        ]
        if refused:
            errors["inputs"] = (
                f"{definition.code} takes inputs of {', '.join(sorted(allowed))} only; refused {', '.join(refused)}"
            )
    if location and location in {d.location for d in resolved["inputs"]}:
        errors["inputs"] = "a dataset cannot be its own input"

    if request.start_date and request.end_date and request.end_date < request.start_date:
        errors["end_date"] = "is before start_date"
    return resolved, errors


def _write_parameter_values(dataset: Dataset, values: dict, types: dict[str, ParameterType]) -> None:
    ParameterValue.objects.filter(dataset=dataset).delete()
    rows = []
    for name, value in values.items():
        parameter_type = types[name]
        numeric = value if parameter_type.value_type == ParameterType.ValueType.NUMERIC else None
        rows.append(
            ParameterValue(
                dataset=dataset,
                parameter_type=parameter_type,
                numeric_value=numeric,
                text_value="" if numeric is not None else str(value)[:1024],
            )
        )
    ParameterValue.objects.bulk_create(rows)


def dataset_store(*, actor: Actor, request: DatasetRequest) -> tuple[Dataset, bool]:
    """Validate and upsert a dataset by location; returns (dataset, created).

    Raises IngestionError with every problem by field; nothing is written then.
    File registration is queued when the transaction commits.
    """
    from .tasks import register_datafiles

    resolved, errors = _validate(actor, request)
    if errors:
        raise IngestionError(errors)
    investigation: Investigation = resolved["investigation"]
    location: str = resolved["location"]

    with transaction.atomic():
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
            "parameters": resolved["parameters"].values,
            "complete": False,
        }
        dataset, created = _upsert_dataset(location, fields)
        _write_parameter_values(dataset, resolved["parameters"].values, resolved["parameters"].types)
        dataset.inputs.set(resolved["inputs"])
        files = request.files
        transaction.on_commit(lambda: register_datafiles.delay(dataset.pk, files))
    return dataset, created


def _upsert_dataset(location: str, fields: dict) -> tuple[Dataset, bool]:
    """Insert or update by location; safe when several callers store the same location at once."""
    existing = Dataset.objects.select_for_update().filter(location=location).first()
    if existing is None:
        try:
            with transaction.atomic():
                return Dataset.objects.create(location=location, **fields), True
        except IntegrityError:
            # Another request inserted it between our read and our insert: update theirs.
            existing = Dataset.objects.select_for_update().get(location=location)
    if existing.investigation_id != fields["investigation"].pk:
        raise IngestionError({"location": f"'{location}' already belongs to another investigation"})
    for key, value in fields.items():
        setattr(existing, key, value)
    existing.save()
    return existing, False


# --- File registration (runs in the worker) ---------------------------------------------------


def _scan(location: Path):
    for directory, _subdirs, names in os.walk(location):
        for name in names:
            full = Path(directory) / name
            try:
                stat = full.stat()
            except OSError:
                continue
            yield {
                "path": str(full.relative_to(location)),
                "size": stat.st_size,
                "modified": datetime.fromtimestamp(stat.st_mtime, tz=timezone.get_current_timezone()),
            }


def _datafile(dataset_id: int, item: dict) -> Datafile:
    modified = item.get("modified")
    if isinstance(modified, str):
        modified = datetime.fromisoformat(modified)
    return Datafile(
        dataset_id=dataset_id,
        path=os.path.normpath(item["path"]),
        size=int(item.get("size") or 0),
        checksum=item.get("checksum") or "",
        modified=modified,
    )


def datafiles_register(*, dataset_id: int, files: list | None = None) -> Dataset | None:
    """Bulk-insert the dataset's files (given, or found on disk), then update counts and size."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(pk=dataset_id).first()
        if dataset is None:
            return None
        items = files if files is not None else _scan(Path(dataset.location))
        batch = []
        for item in items:
            batch.append(_datafile(dataset.pk, item))
            if len(batch) >= FILE_BATCH:
                _insert_datafiles(batch)
                batch = []
        _insert_datafiles(batch)
        totals = Datafile.objects.filter(dataset_id=dataset.pk).aggregate(count=Count("id"), size=Sum("size"))
        dataset.file_count = totals["count"] or 0
        dataset.size = totals["size"] or 0
        dataset.complete = True
        dataset.save(update_fields=["file_count", "size", "complete", "modified"])
    return dataset


def _insert_datafiles(batch: list[Datafile]) -> None:
    if batch:
        Datafile.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["dataset", "path"],
            update_fields=["size", "checksum", "modified"],
        )
