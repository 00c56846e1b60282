"""Storing a dataset (the generic storeDataset contract): validation against the vocabulary, the
investigation and its data folder, then one transaction that upserts it by location. Each function
owns its transaction; file registration is catalogue.ingestion.registration's."""

import os
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from catalogue import locations
from catalogue.access import Actor, can_write_investigation, investigation_q
from catalogue.models import Dataset, Instrument, Investigation, ParameterValue, Sample
from techniques.models import ParameterType
from techniques.validation import check_definition, validate_parameters
from techniques.vocabulary import current_vocabulary

from .registration import datafile_row, datafiles_insert_new, datafiles_upsert, registration_queue


class IngestionError(Exception):
    """Every problem of a request, by field: {"location": "...", "parameters": {"MX_x": "..."}}."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


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
def dataset_store_batch(
    *, actor: Actor, requests: list[tuple[DatasetRequest | None, dict]]
) -> list[tuple[Dataset, bool] | IngestionError]:
    """dataset_store for each (request, shape_errors) in order, in one transaction; returns, for
    each, (dataset, created) or the IngestionError that refused it. Each dataset is written in its
    own savepoint (_store's atomic, nested in this one): a refused dataset writes nothing, the
    others stay, and their files are queued when the whole batch commits. A request of None was
    refused by its shape alone (not an object): its shape_errors are its answer. The same location
    twice updates the dataset the first one stored."""
    results: list[tuple[Dataset, bool] | IngestionError] = []
    for request, shape_errors in requests:
        if request is None:
            results.append(IngestionError(shape_errors))
            continue
        try:
            results.append(dataset_store(actor=actor, request=request, shape_errors=shape_errors))
        except IngestionError as exc:
            results.append(exc)
    return results


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
        rows = list({row[0]: row for row in map(datafile_row, files)}.values())
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
        datafiles_insert_new(dataset.pk, rows)
    elif inline:
        datafiles_upsert(dataset, rows)
    else:
        registration_queue(dataset=dataset, files=files)
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
