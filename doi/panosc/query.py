"""The PaNOSC search API's filter language, parsed and checked before any SQL is built.

A filter is Loopback's JSON (panosc-eu/search-api doc/query.md): `where` (a property's value,
`{"property": {"operator": value}}`, `and`/`or` lists, `text`), `include` (relations, each with a
`scope` of its own `where` and `include`), `limit` and `skip`. `parse_filter` turns it into a small
tree (`Where`, `Include`, `Filter`) checked against each resource's fields (resources.py), so a bad
filter is a `FilterError` naming the field and the reason (a 400), never a database error.

Bounds: at most MAX_FILTER_CHARS characters, and/or nested MAX_DEPTH deep, MAX_NODES conditions,
includes MAX_INCLUDE_DEPTH deep; limit capped at MAX_LIMIT.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, time

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

MAX_FILTER_CHARS = 20_000
MAX_DEPTH = 8
MAX_NODES = 200
MAX_INCLUDE_DEPTH = 3
MAX_INCLUDES = 10
MAX_LIST = 100
MAX_STRING = 500
MAX_LIMIT = 100
MAX_SKIP = 100_000
MAX_QUERY_TERMS = 10

# Operator -> what it takes: one scalar, a pair, or a list.
OPERATORS = {
    "eq": "scalar",
    "neq": "scalar",
    "gt": "scalar",
    "gte": "scalar",
    "lt": "scalar",
    "lte": "scalar",
    "between": "pair",
    "inq": "list",
    "nin": "list",
    "like": "pattern",
    "nlike": "pattern",
    "ilike": "pattern",
    "nilike": "pattern",
}
ORDERED = {"gt", "gte", "lt", "lte", "between"}
PATTERNS = {"like", "nlike", "ilike", "nilike"}


class FilterError(ValueError):
    """A filter the API refuses: `field` is where in the filter (e.g. filter.where.title.gt)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: object
    path: str


@dataclass(frozen=True)
class Where:
    """A node: "and"/"or" over children, a "leaf" condition, or "text" (value: the string)."""

    kind: str
    children: tuple = ()
    leaf: Leaf | None = None
    text: str = ""


@dataclass
class Include:
    relation: str
    where: Where | None = None
    include: list["Include"] = field(default_factory=list)
    path: str = ""

    @property
    def restricts(self) -> bool:
        """As the reference's Sanitize mixin: a scope with a where or an include keeps only the
        parents that have a matching child (an inner join)."""
        return self.where is not None or bool(self.include)


@dataclass
class Filter:
    where: Where | None = None
    include: list[Include] = field(default_factory=list)
    limit: int = MAX_LIMIT
    skip: int = 0


def load_json(raw: str | None, name: str) -> dict:
    """A query parameter's JSON object; {} when absent."""
    if raw is None or raw == "":
        return {}
    if len(raw) > MAX_FILTER_CHARS:
        raise FilterError(name, f"too long ({len(raw)} characters, at most {MAX_FILTER_CHARS})")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise FilterError(name, "nested too deep") from None
    except ValueError as exc:
        raise FilterError(name, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise FilterError(name, f"a JSON object, got {_type(value)}")
    return value


def _type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _count(value, limit: int, name: str) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FilterError(name, f"a non-negative integer, got {_type(value)}")
    if value < 0:
        raise FilterError(name, "a non-negative integer")
    if value > limit and name.endswith("skip"):
        raise FilterError(name, f"at most {limit}")
    return value


def parse_filter(raw: dict, resource, name: str = "filter", *, pageable: bool = True) -> Filter:
    """Check a filter object against a resource (resources.Resource)."""
    allowed = {"where", "include", "limit", "skip", "fields", "order"}
    for key in raw:
        if key not in allowed:
            raise FilterError(f"{name}.{key}", "unknown filter key (where, include, limit, skip)")
    budget = [MAX_NODES]
    result = Filter()
    if raw.get("where") is not None:
        result.where = parse_where(raw["where"], resource, f"{name}.where", budget)
    if "include" in raw:
        result.include = parse_includes(raw["include"], resource, f"{name}.include", budget, 1)
    if pageable:
        if raw.get("limit") is not None:
            limit = _count(raw["limit"], MAX_LIMIT, f"{name}.limit")
            result.limit = min(limit, MAX_LIMIT) if limit else MAX_LIMIT  # Loopback: 0 is no limit
        if raw.get("skip") is not None:
            result.skip = _count(raw["skip"], MAX_SKIP, f"{name}.skip")
    return result


def parse_includes(value, resource, path: str, budget: list, depth: int) -> list[Include]:
    if depth > MAX_INCLUDE_DEPTH:
        raise FilterError(path, f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise FilterError(path, f"an array of relations, got {_type(value)}")
    if len(value) > MAX_INCLUDES:
        raise FilterError(path, f"at most {MAX_INCLUDES} relations")
    includes = []
    for i, item in enumerate(value):
        here = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"relation": item}
        if not isinstance(item, dict):
            raise FilterError(here, f"a relation name or object, got {_type(item)}")
        for key in item:
            if key not in ("relation", "scope"):
                raise FilterError(f"{here}.{key}", "unknown key (relation, scope)")
        relation = item.get("relation")
        if not isinstance(relation, str):
            raise FilterError(f"{here}.relation", "a relation name is required")
        target = resource.relation(relation, f"{here}.relation")
        include = Include(relation=relation, path=here)
        scope = item.get("scope")
        if scope is not None:
            if not isinstance(scope, dict):
                raise FilterError(f"{here}.scope", f"an object, got {_type(scope)}")
            for key in scope:
                if key not in ("where", "include", "limit", "skip", "fields", "order"):
                    raise FilterError(f"{here}.scope.{key}", "unknown scope key (where, include)")
            if scope.get("where") is not None:
                include.where = parse_where(scope["where"], target, f"{here}.scope.where", budget)
            if scope.get("include"):
                include.include = parse_includes(scope["include"], target, f"{here}.scope.include", budget, depth + 1)
        includes.append(include)
    return includes


def parse_where(value, resource, path: str, budget: list, depth: int = 0) -> Where:
    if depth > MAX_DEPTH:
        raise FilterError(path, f"and/or nested more than {MAX_DEPTH} deep")
    if not isinstance(value, dict):
        raise FilterError(path, f"an object, got {_type(value)}")
    children = []
    for key, item in value.items():
        budget[0] -= 1
        if budget[0] < 0:
            raise FilterError(path, f"more than {MAX_NODES} conditions")
        here = f"{path}.{key}"
        if key in ("and", "or"):
            if not isinstance(item, list) or not item:
                raise FilterError(here, "a non-empty array of conditions")
            if len(item) > MAX_LIST:
                raise FilterError(here, f"at most {MAX_LIST} conditions")
            parts = tuple(parse_where(c, resource, f"{here}[{i}]", budget, depth + 1) for i, c in enumerate(item))
            children.append(Where(kind=key, children=parts))
        elif key == "text":
            if not isinstance(item, str) or not item.strip():
                raise FilterError(here, "a non-empty string")
            if len(item) > MAX_STRING:
                raise FilterError(here, f"at most {MAX_STRING} characters")
            if not resource.text_fields:
                raise FilterError(here, f"{resource.name} has no text fields")
            children.append(Where(kind="text", text=item.strip()))
        else:
            kind = resource.field_kind(key, here)
            children.append(Where(kind="leaf", leaf=_leaf(key, kind, item, here)))
    if len(children) == 1:
        return children[0]
    return Where(kind="and", children=tuple(children))


def _leaf(name: str, kind: str, value, path: str) -> Leaf:
    if isinstance(value, dict):
        if len(value) != 1:
            raise FilterError(path, "one operator per condition")
        op, operand = next(iter(value.items()))
        if op not in OPERATORS:
            raise FilterError(f"{path}.{op}", f"unknown operator ({', '.join(OPERATORS)})")
        path = f"{path}.{op}"
    else:
        op, operand = "eq", value
    shape = OPERATORS[op]
    if op in ORDERED and kind in ("string", "bool"):
        raise FilterError(path, f"{name} is not ordered")
    if shape == "pair":
        if not isinstance(operand, list) or len(operand) != 2:
            raise FilterError(path, "an array of two values")
        operand = tuple(_scalar(kind, v, f"{path}[{i}]") for i, v in enumerate(operand))
    elif shape == "list":
        if not isinstance(operand, list) or len(operand) > MAX_LIST:
            raise FilterError(path, f"an array of at most {MAX_LIST} values")
        operand = tuple(_scalar(kind, v, f"{path}[{i}]") for i, v in enumerate(operand))
    elif shape == "pattern":
        if kind not in ("string", "any") or not isinstance(operand, str):
            raise FilterError(path, "a pattern (string) on a text property")
        if len(operand) > MAX_STRING:
            raise FilterError(path, f"at most {MAX_STRING} characters")
    else:
        operand = _scalar(kind, operand, path)
    return Leaf(field=name, op=op, value=operand, path=path)


def _scalar(kind: str, value, path: str):
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FilterError(path, f"a number, got {_type(value)}")
        if abs(value) > 1e300:
            raise FilterError(path, "out of range")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise FilterError(path, f"true or false, got {_type(value)}")
        return value
    if kind == "date":
        if not isinstance(value, str) or len(value) > 40:
            raise FilterError(path, f"an ISO 8601 date, got {_type(value)}")
        try:
            moment = parse_datetime(value)
            if moment is None and (day := parse_date(value)) is not None:
                moment = datetime.combine(day, time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise FilterError(path, "an ISO 8601 date")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_default_timezone())
    if kind == "any":  # a parameter's value: a number or a string
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise FilterError(path, f"a number or a string, got {_type(value)}")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise FilterError(path, f"at most {MAX_STRING} characters")
        if isinstance(value, float) and abs(value) > 1e300:
            raise FilterError(path, "out of range")
        return value
    if not isinstance(value, str):
        raise FilterError(path, f"a string, got {_type(value)}")
    if len(value) > MAX_STRING:
        raise FilterError(path, f"at most {MAX_STRING} characters")
    return value


def parse_query(raw: str | None) -> list[str]:
    """The `query` parameter: free text whose words score the results (at most MAX_QUERY_TERMS)."""
    if raw is None or not raw.strip():
        return []
    if len(raw) > MAX_STRING:
        raise FilterError("query", f"at most {MAX_STRING} characters")
    terms = list(dict.fromkeys(t.lower() for t in raw.split() if t.strip()))
    if len(terms) > MAX_QUERY_TERMS:
        raise FilterError("query", f"at most {MAX_QUERY_TERMS} words")
    return terms
