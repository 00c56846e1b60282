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


def _find_investigation(request: DatasetRequest, errors: dict, memo: dict) -> Investigation | None:
    """The one investigation the request names; memo keeps what was found (and why not) per
    request fields, so that a batch looks each session up once."""
    key = ("investigation", request.proposal, request.visit_id, request.instrument, request.time)
    if key not in memo:
        found = {}
        memo[key] = (_lookup_investigation(request, found), found.get("investigation"))
    investigation, error = memo[key]
    if error:
        errors["investigation"] = error
    return investigation


def _lookup_investigation(request: DatasetRequest, errors: dict) -> Investigation | None:
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


def _validate(actor: Actor, request: DatasetRequest, memo: dict) -> tuple[dict, dict]:
    """Resolve and check everything before writing anything; returns (resolved, errors). memo: what
    earlier requests of the same batch looked up (investigations, write permissions)."""
    errors: dict = {}
    resolved: dict = {}
    try:
        location = locations.normalise_location(request.location)
    except locations.PathRefused as exc:
        errors["location"] = f"'{request.location}' {exc}"
        location = ""
    resolved["location"] = location

    investigation = _find_investigation(request, errors, memo)
    if investigation is not None and ("writes", investigation.pk) not in memo:
        memo["writes", investigation.pk] = can_write_investigation(actor, investigation)
    if investigation is not None and not memo["writes", investigation.pk]:
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

    if "vocabulary" not in memo:  # its check of the version is a query: once a batch
        memo["vocabulary"] = current_vocabulary()
    vocabulary = memo["vocabulary"]
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


def parameter_value_rows(dataset_id: int, resolved: dict) -> list[tuple]:
    """The dataset's searchable values as rows of the typed table: (dataset_id, parameter_type_id,
    numeric_value, text_value)."""
    validated = resolved["parameters"]
    numeric = ParameterType.ValueType.NUMERIC
    rows = []
    for name, value in validated.values.items():
        parameter_type = validated.types[name]
        if parameter_type.searchable:
            number = value if parameter_type.value_type == numeric else None
            rows.append((dataset_id, parameter_type.pk, number, "" if number is not None else str(value)[:1024]))
    return rows


def parameter_values_write(rows: list[tuple], *, stored_id: int | None = None) -> None:
    """parameter_value_rows of any number of new datasets: PostgreSQL copies them in (COPY), others
    insert them in statements of VALUES_ROWS rows. stored_id: the one stored dataset the rows are of,
    updated by an upsert that rewrites a row only when its value differs, after the DELETE of the
    parameters no longer sent. Plain SQL: bulk_create built a model instance per value, a third of
    the writes' time."""
    table = ParameterValue._meta.db_table
    columns = "dataset_id, parameter_type_id, numeric_value, text_value"
    upsert = (
        " ON CONFLICT (dataset_id, parameter_type_id) DO UPDATE"
        " SET numeric_value = EXCLUDED.numeric_value, text_value = EXCLUDED.text_value"
        " WHERE stored.numeric_value IS DISTINCT FROM EXCLUDED.numeric_value"
        " OR stored.text_value <> EXCLUDED.text_value"
    )
    type_ids = [row[1] for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            if stored_id is not None:
                kept = f" AND parameter_type_id NOT IN ({', '.join(['%s'] * len(type_ids))})" if rows else ""
                cursor.execute(f"DELETE FROM {table} WHERE dataset_id = %s{kept}", [stored_id, *type_ids])
            for start in range(0, len(rows), VALUES_ROWS):
                chunk = rows[start : start + VALUES_ROWS]
                values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} AS stored ({columns}) VALUES {values}{upsert}",
                    [value for row in chunk for value in row],
                )
        elif stored_id is None:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.execute(
                f"DELETE FROM {table} WHERE dataset_id = %s AND parameter_type_id <> ALL(%s)", [stored_id, type_ids]
            )
            if rows:  # arrays: four parameters, where psycopg would parse a statement of hundreds anew
                cursor.execute(
                    f"INSERT INTO {table} AS stored ({columns})"
                    f" SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::double precision[], %s::text[]){upsert}",
                    [list(column) for column in zip(*rows, strict=True)],
                )


# Rows a VALUES list takes at most: 4 columns a row stay under SQLite's 32,766 variables a statement.
VALUES_ROWS = 5000


# The request's fields that find the investigation.
_INVESTIGATION_FIELDS = {"proposal", "visit_id", "instrument", "time"}


def dataset_validate(
    *, actor: Actor, request: DatasetRequest, shape_errors: dict | None = None, memo: dict | None = None
) -> dict:
    """Everything dataset_store checks before writing: the request resolved (its investigation,
    definition, inputs, validated parameters...), or IngestionError with every problem by field.
    shape_errors: the fields the caller's serializer refused (left at their defaults in request),
    reported with the problems found here, so that one answer names them all. memo: lookups shared
    by the requests of one batch."""
    resolved, errors = _validate(actor, request, {} if memo is None else memo)
    if shape_errors:
        if shape_errors.keys() & _INVESTIGATION_FIELDS:
            errors.pop("investigation", None)  # looked up without the refused field: not a finding
        errors |= shape_errors  # the serializer's reason wins for a field both name
    if errors:
        raise IngestionError(errors)
    return resolved


def dataset_store(
    *, actor: Actor, request: DatasetRequest, shape_errors: dict | None = None, memo: dict | None = None
) -> tuple[Dataset, bool]:
    """Validate (dataset_validate) and upsert a dataset by location; returns (dataset, created).

    Raises IngestionError with every problem by field; nothing is written then. A list of up to
    settings.INGESTION_INLINE_FILES files is registered in the same transaction; a longer one, or a
    scan of the location (files=None), is queued for the worker when the transaction commits.
    """
    resolved = dataset_validate(actor=actor, request=request, shape_errors=shape_errors, memo=memo)
    try:
        return _store(request, resolved)
    except IntegrityError:
        # Another request inserted the same location between our read and our insert, and ours
        # was rolled back: once more, now as an update of theirs.
        return _store(request, resolved)


def dataset_fields(request: DatasetRequest, resolved: dict, sample: Sample | None) -> dict:
    """The dataset's columns as the request sets them, on insert and on update alike."""
    return {
        "investigation": resolved["investigation"],
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


def inline_files(files: list | None) -> tuple[list[tuple], dict] | None:
    """A list short enough to register with the dataset (settings.INGESTION_INLINE_FILES): its
    datafile rows, once per path (the last listing wins), and the dataset's totals, complete.
    None for a longer list or a scan (files=None): the worker registers those."""
    if files is None or len(files) > settings.INGESTION_INLINE_FILES:
        return None
    rows = list({row[0]: row for row in map(datafile_row, files)}.values())
    return rows, {"file_count": len(rows), "size": sum(row[1] for row in rows), "complete": True}


@transaction.atomic
def _store(request: DatasetRequest, resolved: dict) -> tuple[Dataset, bool]:
    """dataset_store's writes, in one transaction."""
    investigation: Investigation = resolved["investigation"]
    sample = None
    if request.sample:
        sample, _ = Sample.objects.get_or_create(investigation=investigation, name=request.sample)
    inline = inline_files(request.files)
    registered = inline[1] if inline else {}
    dataset, created = _upsert_dataset(resolved["location"], dataset_fields(request, resolved, sample), registered)
    parameter_values_write(parameter_value_rows(dataset.pk, resolved), stored_id=None if created else dataset.pk)
    if created:
        dataset.inputs.add(*resolved["inputs"])  # one INSERT, none without inputs; set() reads first
    else:
        dataset.inputs.set(resolved["inputs"])
    if inline and created:
        datafiles_insert_new([(dataset.pk, *row) for row in inline[0]])
    elif inline:
        datafiles_upsert(dataset, inline[0])
    else:
        registration_queue([(dataset, request.files)])
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
