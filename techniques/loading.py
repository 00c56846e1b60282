"""Read technique definition files (YAML) and sync them into the vocabulary tables."""

from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml
from django.conf import settings
from django.db import transaction

from .models import DatasetDefinition, ParameterType, Technique
from .units import UnitError, parse_unit

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

_NAME = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"}
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
                "panet_id": {"type": "string"},
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
                    "type": {"enum": [choice for choice, _ in ParameterType.ValueType.choices]},
                    "description": {"type": "string"},
                },
            },
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
                    "summary": {"type": "array", "items": _NAME},
                    "inputs": {"type": "array", "items": _NAME},
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

    def __str__(self):
        if not (self.created or self.updated):
            return "Vocabulary up to date."
        lines = [f"created {name}" for name in self.created]
        lines += [f"updated {name}" for name in self.updated]
        return "\n".join(lines)


def read_definition_file(path: Path) -> dict:
    """Parse and check one file; errors name the file, the place and the reason."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DefinitionFileError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        jsonschema.validate(document, SCHEMA)
    except jsonschema.ValidationError as exc:
        place = "/".join(str(part) for part in exc.absolute_path) or "(top level)"
        raise DefinitionFileError(f"{path.name}: at {place}: {exc.message}") from exc
    for index, parameter in enumerate(document.get("parameters", [])):
        try:
            parse_unit(parameter.get("unit", ""))
        except UnitError as exc:
            raise DefinitionFileError(f"{path.name}: at parameters/{index}/unit: {exc}") from exc
    if document.get("definitions") and "technique" not in document:
        raise DefinitionFileError(f"{path.name}: definitions need a technique section")
    return document


def read_definitions(directory: Path = DEFINITIONS_DIR) -> list[dict]:
    """Read every file; a parameter or definition may be declared in one file only."""
    documents, declared = [], {}
    for path in sorted(directory.glob("*.yaml")):
        document = read_definition_file(path)
        names = [("parameter", p["name"]) for p in document.get("parameters", [])]
        names += [("definition", d["code"]) for d in document.get("definitions", [])]
        for entry in names:
            if entry in declared:
                kind, name = entry
                raise DefinitionFileError(f"{path.name}: {kind} {name} is already declared in {declared[entry]}")
            declared[entry] = path.name
        documents.append(document)
    return documents


def _upsert(model, lookup: dict, values: dict, report: SyncReport, label: str):
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        model.objects.create(**lookup, **values)
        report.created.append(label)
    elif any(getattr(obj, key) != value for key, value in values.items()):
        for key, value in values.items():
            setattr(obj, key, value)
        obj.save()
        report.updated.append(label)


@transaction.atomic
def sync_definitions(directory: Path = DEFINITIONS_DIR) -> SyncReport:
    report = SyncReport()
    documents = read_definitions(directory)
    for document in documents:
        technique = None
        if spec := document.get("technique"):
            _upsert(
                Technique,
                {"code": spec["code"]},
                {
                    "name": spec["name"],
                    "description": spec.get("description", ""),
                    "panet_id": spec.get("panet_id", ""),
                },
                report,
                f"technique {spec['code']}",
            )
            technique = Technique.objects.get(code=spec["code"])
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
                },
                report,
                f"parameter {parameter['name']}",
            )
        for definition in document.get("definitions", []):
            _upsert(
                DatasetDefinition,
                {"code": definition["code"]},
                {
                    "label": definition["label"],
                    "kind": definition["kind"],
                    "technique": technique,
                    "summary": definition.get("summary", []),
                    "input_definitions": definition.get("inputs", []),
                },
                report,
                f"definition {definition['code']}",
            )
    return report


def sync_after_migrate(sender, using="default", **kwargs):
    """Keep the vocabulary in step with the definition files after every migrate and flush."""
    if getattr(settings, "TECHNIQUES_SYNC_ON_MIGRATE", True):
        sync_definitions()
