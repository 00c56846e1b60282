"""The dataset list's page (GET /api/v1/datasets/) without serializer instances (issue 17, decision 3):
the rows' columns from `.values()`, turned into the dicts DatasetSerializer describes by plain
functions, and the JSON written by orjson. The JSON columns (parameters, warnings) come as the text
the database holds and go into the answer as they are (orjson.Fragment): no decoding and encoding
again. The OpenAPI schema is still DatasetSerializer's; catalogue/tests/test_listing.py checks that
the answer is what DatasetSerializer gives for the same rows."""

import json
from datetime import datetime

import orjson
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from .serializers import _iso

# DatasetSerializer's fields, as the columns that give them.
COLUMNS = (
    "id",
    "investigation_id",
    "investigation__name",
    "investigation__visit_id",
    "sample__name",
    "name",
    "location",
    "kind",
    "definition__code",
    "start_date",
    "end_date",
    "description",
    "file_count",
    "size",
    "storage_status",
    "complete",
    "created",
    "modified",
)
# As the text the database holds (PostgreSQL: jsonb's text output; SQLite: the stored text).
JSON_COLUMNS = {"parameters_json": "parameters", "warnings_json": "warnings"}


def dataset_values(queryset: QuerySet) -> QuerySet:
    """The list's queryset (access policy, filters, order) as the columns the answer needs."""
    return queryset.values(
        *COLUMNS, **{alias: Cast(field, output_field=TextField()) for alias, field in JSON_COLUMNS.items()}
    )


def dataset_rows(values, links: dict[int, tuple[list[int], list[int]]]) -> list[dict]:
    """DatasetSerializer's dicts, in its field order, for rows of dataset_values, for
    dataset_page_json: dates as datetimes in the current time zone, parameters and warnings as JSON
    text (orjson.Fragment). links: the inputs and outputs the caller may read, by id."""
    tz = timezone.get_current_timezone()
    json_value = orjson.Fragment
    rows = []
    for row in values:
        start, end = row["start_date"], row["end_date"]
        inputs, outputs = links[row["id"]]
        rows.append(
            {
                "id": row["id"],
                "investigation": {
                    "id": row["investigation_id"],
                    "proposal": row["investigation__name"],
                    "visit_id": row["investigation__visit_id"],
                },
                "sample": row["sample__name"],
                "name": row["name"],
                "location": row["location"],
                "kind": row["kind"],
                "definition": row["definition__code"],
                "start_date": None if start is None else _local(start, tz),
                "end_date": None if end is None else _local(end, tz),
                "description": row["description"],
                "parameters": json_value(row["parameters_json"]),
                "inputs": inputs,
                "outputs": outputs,
                "file_count": row["file_count"],
                "size": row["size"],
                "storage_status": row["storage_status"],
                "complete": row["complete"],
                "warnings": json_value(row["warnings_json"]),
                "created": _local(row["created"], tz),
                "modified": _local(row["modified"], tz),
            }
        )
    return rows


def _local(value: datetime, tz) -> datetime | str:
    """The moment in the time zone, for orjson to write as DRF's DateTimeField does (ISO 8601, UTC
    as Z); as text when its offset has seconds (local mean time before about 1911), which orjson
    would cut to minutes."""
    local = value.astimezone(tz)
    if local.utcoffset().seconds % 60:
        return _iso(value, tz)
    return local


def dataset_page_json(body) -> bytes:
    """The page as JSON (compact, UTF-8), as DRF's JSONRenderer writes it: dates in ISO 8601 in the
    current time zone, UTC as Z."""
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def dataset_page_data(body) -> dict:
    """The page as plain data, for DRF's other renderers (the browsable API). Read back by json,
    which keeps integers past 64 bits (orjson reads them as floats)."""
    return json.loads(dataset_page_json(body))
