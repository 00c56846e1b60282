"""Read technique definition files (YAML) and sync them into the vocabulary tables.

The format is documented in definitions/README.md; SCHEMA below is its one source of truth.
"""

from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml
from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from .models import DatasetDefinition, ParameterType, Technique
from .ontology import PANET_TERMS, panet_terms
from .units import UnitError, parse_unit

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

# Parameter names and definition codes: a letter, then letters, digits and _ (no -: a technique's
# code may have one, being only a URL's slug).
_NAME = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"}
_NAME_RULE = "a name or definition code is a letter, then letters, digits and _ (no -)"
_NAMES = {"type": "array", "items": _NAME}
_KEYED = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "label"],
        "properties": {"key": {"type": "string"}, "label": {"type": "string"}},
    },
}
_PATTERNS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_VALUE_TYPE = {"enum": [choice for choice, _ in ParameterType.ValueType.choices]}
_PERMITTED = {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]}}
# The keys of a sample's experiment or processing plan (shipping): typed and united like parameters.
_PLAN = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "type"],
        "properties": {
            "key": _NAME,
            "label": {"type": "string"},
            "type": _VALUE_TYPE,
            "unit": {"type": "string"},
            "description": {"type": "string"},
            "minimum": {"type": "number"},
            "maximum": {"type": "number"},
            "permitted_values": _PERMITTED,
        },
    },
}
PLAN_KINDS = ("experiment", "processing")
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "technique": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "name"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "panet_id": {"type": "string"},  # checked against the PaNET terms (ontology.py)
                "views": {
                    "type": "object",
                    "additionalProperties": False,
                    # Extra columns of an investigation's dataset table, by parameter name.
                    "properties": {"columns": _NAMES},
                },
            },
        },
        "parameters": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "type"],
                "properties": {
                    "name": _NAME,
                    "label": {"type": "string"},
                    "unit": {"type": "string"},
                    "type": _VALUE_TYPE,
                    "description": {"type": "string"},
                    "minimum": {"type": "number"},
                    "maximum": {"type": "number"},
                    "permitted_values": _PERMITTED,
                    "nexus_path": {"type": "string"},
                    "searchable": {"type": "boolean"},
                },
            },
        },
        "plans": {
            "type": "object",
            "additionalProperties": False,
            "properties": dict.fromkeys(PLAN_KINDS, _PLAN),
        },
        "definitions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "label", "kind"],
                "properties": {
                    "code": _NAME,
                    "label": {"type": "string"},
                    "kind": {"enum": [choice for choice, _ in DatasetDefinition.Kind.choices]},
                    "summary": _NAMES,
                    "expects": _NAMES,
                    "requires": _NAMES,
                    "inputs": _NAMES,
                    "input_min": {"type": "integer", "minimum": 0},
                    "input_max": {"type": "integer", "minimum": 1},
                    "views": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "tabs": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["title", "fields"],
                                    "properties": {"title": {"type": "string"}, "fields": _NAMES},
                                },
                            },
                            "results": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["title", "cell", "rows", "columns"],
                                    "properties": {
                                        "title": {"type": "string"},
                                        # Parameter name of a cell, e.g. "MXScaling_{row}_{column}".
                                        "cell": {"type": "string", "pattern": "{row}.*{column}|{column}.*{row}"},
                                        "rows": _KEYED,
                                        "columns": _KEYED,
                                    },
                                },
                            },
                            "gallery": _PATTERNS,
                            "plots": _PATTERNS,
                        },
                    },
                },
            },
        },
    },
}


class DefinitionFileError(Exception):
    pass


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __str__(self):
        if not (self.created or self.updated or self.deleted):
            return "Vocabulary up to date."
        lines = [f"created {name}" for name in self.created]
        lines += [f"updated {name}" for name in self.updated]
        lines += [f"deleted {name}" for name in self.deleted]
        return "\n".join(lines)


def _raise(path: Path, problems: list[tuple[str, str]]) -> None:
    """One error for all the problems of a file: 'mx.yaml: at place: reason; at place: reason'."""
    if problems:
        raise DefinitionFileError(f"{path.name}: " + "; ".join(f"at {place}: {reason}" for place, reason in problems))


def _document_order(document, path) -> list[int]:
    """Where a schema error's place comes in the file, so that problems are listed in its order."""
    order, node = [], document
    for part in path:
        if isinstance(node, dict):
            order.append(list(node).index(part) if part in node else len(node))
        else:
            order.append(part if isinstance(part, int) else 0)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return order


def _schema_problem(error: jsonschema.ValidationError) -> tuple[str, str]:
    place = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    reason = error.message
    if error.validator == "pattern" and error.schema is _NAME:
        reason += f" ({_NAME_RULE})"
    return place, reason


def read_definition_file(path: Path) -> dict:
    """Parse and check one file; errors name the file, and every place with a problem and its reason."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        parts = [part for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part]
        reason = " ".join(", ".join(parts or [str(exc)]).split())  # one line
        raise DefinitionFileError(f"{path.name}: not valid YAML: {where}{reason}") from exc
    errors = sorted(
        jsonschema.Draft202012Validator(SCHEMA).iter_errors(document),
        key=lambda error: _document_order(document, error.absolute_path),
    )
    _raise(path, [_schema_problem(error) for error in errors])
    problems = []
    panet_id = document.get("technique", {}).get("panet_id")
    if panet_id and panet_id not in panet_terms():
        terms = f"techniques/{PANET_TERMS.parent.name}/{PANET_TERMS.name}"
        problems.append(("technique/panet_id", f"unknown PaNET id '{panet_id}': not a technique in {terms}"))
    for index, parameter in enumerate(document.get("parameters", [])):
        try:
            parse_unit(parameter.get("unit", ""))
        except UnitError as exc:
            problems.append((f"parameters/{index}/unit", str(exc)))
        if parameter.get("minimum", float("-inf")) > parameter.get("maximum", float("inf")):
            problems.append((f"parameters/{index}", "minimum is above maximum"))
    for kind, entries in document.get("plans", {}).items():
        seen = set()
        for index, entry in enumerate(entries):
            place = f"plans/{kind}/{index}"
            try:
                parse_unit(entry.get("unit", ""))
            except UnitError as exc:
                problems.append((f"{place}/unit", str(exc)))
            if entry.get("minimum", float("-inf")) > entry.get("maximum", float("inf")):
                problems.append((place, "minimum is above maximum"))
            if entry["key"] in seen:
                problems.append((f"{place}/key", f"key '{entry['key']}' is declared twice"))
            seen.add(entry["key"])
    _raise(path, problems)
    for section in ("definitions", "plans"):
        if document.get(section) and "technique" not in document:
            raise DefinitionFileError(f"{path.name}: {section} need a technique section")
    return document


def plan_spec(document: dict) -> dict:
    """A file's plans as stored on its technique: {kind: [entry with its label]}, only the kinds declared."""
    return {
        kind: [{**entry, "label": entry.get("label", entry["key"]), "unit": entry.get("unit", "")} for entry in entries]
        for kind, entries in document.get("plans", {}).items()
    }


def _references(document: dict):
    """(place, parameter name) of every parameter a document's views and definitions name."""
    technique = document.get("technique", {})
    for i, name in enumerate(technique.get("views", {}).get("columns", [])):
        yield f"technique/views/columns/{i}", name
    for d, definition in enumerate(document.get("definitions", [])):
        for key in ("summary", "expects", "requires"):
            for i, name in enumerate(definition.get(key, [])):
                yield f"definitions/{d}/{key}/{i}", name
        for t, tab in enumerate(definition.get("views", {}).get("tabs", [])):
            for i, name in enumerate(tab["fields"]):
                yield f"definitions/{d}/views/tabs/{t}/fields/{i}", name


def result_cell(table: dict, row: str, column: str) -> str:
    return table["cell"].replace("{row}", row).replace("{column}", column)


def _check_references(path: Path, document: dict, parameters: set, definitions: set) -> None:
    """Names in views and definitions must be declared in some file: a typo is an error, not a blank."""
    problems = []

    def fail(place, reason):
        problems.append((place, reason))

    for place, name in _references(document):
        if name not in parameters:
            fail(place, f"unknown parameter '{name}'")
    for d, definition in enumerate(document.get("definitions", [])):
        for i, code in enumerate(definition.get("inputs", [])):
            if code not in definitions:
                fail(f"definitions/{d}/inputs/{i}", f"unknown definition '{code}'")
        if definition.get("input_min", 0) > definition.get("input_max", float("inf")):
            fail(f"definitions/{d}", "input_min is above input_max")
        for r, table in enumerate(definition.get("views", {}).get("results", [])):
            place = f"definitions/{d}/views/results/{r}"
            for i, row in enumerate(table["rows"]):
                cells = [result_cell(table, row["key"], column["key"]) for column in table["columns"]]
                if not parameters.intersection(cells):
                    fail(f"{place}/rows/{i}", f"no parameter matches {cells[0]}")
            for i, column in enumerate(table["columns"]):
                cells = [result_cell(table, row["key"], column["key"]) for row in table["rows"]]
                if not parameters.intersection(cells):
                    fail(f"{place}/columns/{i}", f"no parameter matches {cells[0]}")
    _raise(path, problems)


def read_definitions(directory: Path = DEFINITIONS_DIR) -> list[dict]:
    """Read every file; a parameter or definition may be declared in one file only."""
    documents, declared = [], {}
    paths = sorted(directory.glob("*.yaml"))
    for path in paths:
        document = read_definition_file(path)
        names = [("parameter", p["name"]) for p in document.get("parameters", [])]
        names += [("definition", d["code"]) for d in document.get("definitions", [])]
        for entry in names:
            if entry in declared:
                kind, name = entry
                raise DefinitionFileError(f"{path.name}: {kind} {name} is already declared in {declared[entry]}")
            declared[entry] = path.name
        documents.append(document)
    parameters = {name for kind, name in declared if kind == "parameter"}
    definitions = {name for kind, name in declared if kind == "definition"}
    for path, document in zip(paths, documents, strict=True):
        _check_references(path, document, parameters, definitions)
    return documents


def _upsert(model, lookup: dict, values: dict, report: SyncReport, label: str, check=None):
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values)
        report.created.append(label)
    elif any(getattr(obj, key) != value for key, value in values.items()):
        if check:
            check(obj, values)
        for key, value in values.items():
            setattr(obj, key, value)
        obj.save()
        report.updated.append(label)
    return obj


def _parameters_in_use(names: list[str]) -> set[str]:
    """Those of the names that stored datasets hold values of (the catalogue's models are reached
    through their relations: techniques imports no app)."""
    if not names:
        return set()
    values = ParameterType._meta.get_field("values").related_model
    datasets = DatasetDefinition._meta.get_field("datasets").related_model
    used = set(values.objects.filter(parameter_type__name__in=names).values_list("parameter_type__name", flat=True))
    if datasets.objects.filter(parameters__has_any_keys=names).exists():
        used |= {name for name in names if datasets.objects.filter(parameters__has_key=name).exists()}
    return used


def _check_retype(parameter: ParameterType, values: dict) -> None:
    changed = [key for key in ("value_type", "unit") if getattr(parameter, key) != values[key]]
    if changed and _parameters_in_use([parameter.name]):
        change = ", ".join(f"{key} '{getattr(parameter, key)}' -> '{values[key]}'" for key in changed)
        raise DefinitionFileError(
            f"parameter {parameter.name}: refusing to change {change}: datasets hold values of it; "
            "declare a new parameter instead"
        )


def _check_rekind(definition: DatasetDefinition, values: dict) -> None:
    if definition.kind != values["kind"] and definition.datasets.exists():
        raise DefinitionFileError(
            f"definition {definition.code}: refusing to change kind '{definition.kind}' -> '{values['kind']}': "
            "datasets use it"
        )


def _technique_views(spec: dict) -> dict:
    """Columns with their label and unit, so that a dataset table needs no vocabulary query."""
    names = spec.get("views", {}).get("columns", [])
    types = {p.name: p for p in ParameterType.objects.filter(name__in=names)}
    return {"columns": [{"name": n, "label": types[n].label, "unit": types[n].unit} for n in names]} if names else {}


def _delete_missing(documents: list[dict], report: SyncReport) -> None:
    """Delete what no file declares any more, unless data still uses it."""
    codes = {d["code"] for document in documents for d in document.get("definitions", [])}
    for definition in DatasetDefinition.objects.exclude(code__in=codes).order_by("code"):
        if definition.datasets.exists():
            raise DefinitionFileError(f"definition {definition.code} is in no file but datasets use it; restore it")
        definition.delete()
        report.deleted.append(f"definition {definition.code}")
    names = {p["name"] for document in documents for p in document.get("parameters", [])}
    missing = list(ParameterType.objects.exclude(name__in=names).order_by("name").values_list("name", flat=True))
    if used := _parameters_in_use(missing):
        raise DefinitionFileError(f"parameter {min(used)} is in no file but datasets hold values of it; restore it")
    ParameterType.objects.filter(name__in=missing).delete()
    report.deleted += [f"parameter {name}" for name in missing]
    techniques = {document["technique"]["code"] for document in documents if "technique" in document}
    gone = Technique.objects.exclude(code__in=techniques).order_by("code")
    report.deleted += [f"technique {code}" for code in gone.values_list("code", flat=True)]
    gone.delete()  # their parameters and definitions went above, or moved to another file's technique


@transaction.atomic
def sync_definitions(directory: Path = DEFINITIONS_DIR) -> SyncReport:
    """Make the vocabulary what the files say. Refuses (DefinitionFileError, nothing written) to
    remove or retype a parameter, or remove or re-kind a definition, that stored datasets use."""
    report = SyncReport()
    documents = read_definitions(directory)
    techniques = {}
    for document in documents:
        technique = None
        if spec := document.get("technique"):
            technique = _upsert(
                Technique,
                {"code": spec["code"]},
                {
                    "name": spec["name"],
                    "description": spec.get("description", ""),
                    "panet_id": spec.get("panet_id", ""),
                    "plans": plan_spec(document),
                },
                report,
                f"technique {spec['code']}",
            )
            techniques[spec["code"]] = technique
        for parameter in document.get("parameters", []):
            _upsert(
                ParameterType,
                {"name": parameter["name"]},
                {
                    "label": parameter.get("label", parameter["name"]),
                    "unit": parameter.get("unit", ""),
                    "value_type": parameter["type"],
                    "description": parameter.get("description", ""),
                    "technique": technique,
                    "minimum": parameter.get("minimum"),
                    "maximum": parameter.get("maximum"),
                    "permitted_values": parameter.get("permitted_values", []),
                    "nexus_path": parameter.get("nexus_path", ""),
                    "searchable": parameter.get("searchable", True),
                },
                report,
                f"parameter {parameter['name']}",
                check=_check_retype,
            )
    # Definitions and views last: they name parameters that any file may declare.
    for document in documents:
        technique = techniques.get(document.get("technique", {}).get("code"))
        if technique is not None and technique.views != (views := _technique_views(document["technique"])):
            technique.views = views
            technique.save(update_fields=["views"])
            if f"technique {technique.code}" not in report.created + report.updated:
                report.updated.append(f"technique {technique.code}")
        for definition in document.get("definitions", []):
            _upsert(
                DatasetDefinition,
                {"code": definition["code"]},
                {
                    "label": definition["label"],
                    "kind": definition["kind"],
                    "technique": technique,
                    "summary": definition.get("summary", []),
                    "expects": definition.get("expects", []),
                    "requires": definition.get("requires", []),
                    "input_definitions": definition.get("inputs", []),
                    "input_min": definition.get("input_min"),
                    "input_max": definition.get("input_max"),
                    "views": definition.get("views", {}),
                },
                report,
                f"definition {definition['code']}",
                check=_check_rekind,
            )
    _delete_missing(documents, report)
    return report


def definitions_dir() -> Path:
    """The folder migrate and sync_techniques load: settings.TECHNIQUES_DEFINITIONS_DIR, else definitions/."""
    return Path(getattr(settings, "TECHNIQUES_DEFINITIONS_DIR", None) or DEFINITIONS_DIR)


def sync_after_migrate(sender, using="default", **kwargs):
    """Keep the vocabulary in step with the definition files after every migrate and flush.

    A bad file stops the command as sync_techniques does: `CommandError: <the one-line error>` and
    exit status 1, no traceback. The migrations applied before stay applied (each commits on its
    own); the vocabulary is left as it was.
    """
    if getattr(settings, "TECHNIQUES_SYNC_ON_MIGRATE", True):
        try:
            sync_definitions(definitions_dir())
        except DefinitionFileError as exc:
            raise CommandError(str(exc)) from exc
