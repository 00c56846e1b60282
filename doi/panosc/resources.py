"""The PaNOSC data model (panosc-eu/search-api doc/data-model.md) over the catalogue's open data.

- Dataset: a dataset of a released investigation (pid `dataset-<id>`, title: its name), with its
  instrument, techniques (its definition's, with the PaNET id as a purl), sample, files,
  parameters (the typed parameter values, in the vocabulary's units) and documents.
- Document: a published (findable) DOI of doi/: a session DOI is a "proposal", a selection DOI a
  "publication"; its members are the DOI's creators and contributors, its datasets the released
  ones it holds. Documents carry no parameters of their own here.
- Instrument: every instrument (pid: its name; facility: FACILITY_NAME).

Each Resource turns a parsed `where` (query.py) into a Q on its queryset, and each Relation says
how a parent keeps only those with a matching child (the reference's inner join) and how the
children of a page are fetched: one query per included relation, whatever the page size, at most
CHILD_CAP children per parent.
"""

import contextlib
import copy
import re
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, RowNumber
from django.utils import timezone

from catalogue.models import DataCollection, Datafile, Dataset, Instrument, InvestigationUser, ParameterValue, Sample
from techniques.models import ParameterType, Technique
from techniques.units import UnitError, convert, parse_unit

from ..models import Publication, PublicationPerson
from .query import FilterError, Include, Leaf, Where

CHILD_CAP = 100  # included children per parent
PANET_PURL = "http://purl.org/pan-science/PaNET/"
NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class Field:
    lookup: str | None  # None: a constant (const)
    kind: str = "string"  # string, number, date, bool, any
    const: object = None
    to_db: object = None  # the API's value -> the stored one (None: matches nothing)


def _pid(prefix: str):
    def to_db(value):
        if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
            number = int(value[len(prefix) :])
            return number if number < 2**63 else None
        return None

    return to_db


def _panet(value):
    return value.removeprefix(PANET_PURL) if isinstance(value, str) else value


def _like(pattern: str) -> str:
    """Loopback's like (SQL wildcards % and _) as an anchored regular expression."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return "^" + "".join(parts) + "$"


def _python_match(op: str, stored, value) -> bool:
    if op == "eq":
        return stored == value
    if op == "neq":
        return stored != value
    if op == "inq":
        return stored in value
    if op == "nin":
        return stored not in value
    if op in ("like", "ilike", "nlike", "nilike"):
        flags = re.IGNORECASE if op in ("ilike", "nilike") else 0
        found = re.match(_like(value), str(stored), flags) is not None
        return found if op in ("like", "ilike") else not found
    try:
        if op == "between":
            return value[0] <= stored <= value[1]
        return {"gt": stored > value, "gte": stored >= value, "lt": stored < value, "lte": stored <= value}[op]
    except TypeError:
        return False


def _lookup_q(lookup: str, op: str, value) -> Q:
    if op == "eq":
        return Q(**{lookup: value})
    if op == "neq":
        return ~Q(**{lookup: value})
    if op in ("gt", "gte", "lt", "lte"):
        return Q(**{f"{lookup}__{op}": value})
    if op == "between":
        return Q(**{f"{lookup}__range": value})
    if op == "inq":
        return Q(**{f"{lookup}__in": value})
    if op == "nin":
        return ~Q(**{f"{lookup}__in": value})
    regex = _like(value)
    if op == "like":
        return Q(**{f"{lookup}__regex": regex})
    if op == "ilike":
        return Q(**{f"{lookup}__iregex": regex})
    if op == "nlike":
        return ~Q(**{f"{lookup}__regex": regex})
    return ~Q(**{f"{lookup}__iregex": regex})


@dataclass(eq=False)
class Resource:
    name: str
    fields: dict[str, Field]
    text_fields: tuple[str, ...] = ()
    relations: dict[str, "Relation"] = field(default_factory=dict)
    order: tuple[str, ...] = ("pk",)

    def base(self):  # the open rows, with what filters and serialization read
        raise NotImplementedError

    def serialize(self, obj) -> dict:
        raise NotImplementedError

    def field_kind(self, name: str, path: str) -> str:
        if name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise FilterError(path, f"unknown property of {self.name} ({known}, and, or, text)")
        return self.fields[name].kind

    def relation(self, name: str, path: str) -> "Resource":
        if name not in self.relations:
            known = ", ".join(sorted(self.relations)) or "none"
            raise FilterError(path, f"unknown relation of {self.name} ({known})")
        return self.relations[name].target

    # --- SQL ---

    def where_q(self, where: Where | None) -> Q:
        if where is None:
            return Q()
        if where.kind == "and":
            return reduce(and_, (self.where_q(c) for c in where.children), Q())
        if where.kind == "or":
            return reduce(or_, (self.where_q(c) for c in where.children))
        if where.kind == "text":
            return reduce(or_, (Q(**{f"{f}__icontains": where.text}) for f in self.text_fields))
        return self.leaf_q(where.leaf)

    def leaf_q(self, leaf: Leaf) -> Q:
        spec = self.fields[leaf.field]
        value = leaf.value
        if spec.lookup is None:
            return Q() if _python_match(leaf.op, spec.const, value) else NOTHING
        if spec.to_db is not None:
            if leaf.op in ("inq", "nin"):
                value = tuple(v for v in map(spec.to_db, value) if v is not None)
            elif leaf.op in ("eq", "neq"):
                value = spec.to_db(value)
                if value is None:
                    return NOTHING if leaf.op == "eq" else Q()
        return _lookup_q(spec.lookup, leaf.op, value)

    def include_q(self, include: Include) -> Q:
        """What a child must satisfy: its scope's where, and its own restricting includes."""
        q = self.where_q(include.where)
        for nested in include.include:
            if nested.restricts:
                relation = self.relations[nested.relation]
                q &= relation.exists(relation.target.include_q(nested))
        return q

    def filter_q(self, where: Where | None, includes: list[Include]) -> Q:
        q = self.where_q(where)
        for include in includes:
            if include.restricts:
                relation = self.relations[include.relation]
                q &= relation.exists(relation.target.include_q(include))
        return q

    def score(self, qs, terms: list[str]):
        """Keep the rows matching a word of the query, scored by the share of its words they hold."""
        if not terms:
            return qs.annotate(_score=Value(0.0, output_field=FloatField()))
        matches = [reduce(or_, (Q(**{f"{f}__icontains": t}) for f in self.text_fields)) for t in terms]
        hits = [Case(When(match, then=Value(1)), default=Value(0), output_field=IntegerField()) for match in matches]
        # Kept by the plain OR of the conditions, not by the hits' sum: PostgreSQL serves the OR from
        # the trigram indexes (catalogue migration 0011) where a sum would make it scan every row.
        qs = qs.filter(reduce(or_, matches)).annotate(_hits=reduce(lambda a, b: a + b, hits))
        return qs.annotate(_score=F("_hits") * Value(1.0 / len(terms), output_field=FloatField()))


@dataclass(eq=False)
class Relation:
    target: Resource
    many: bool
    exists: object  # child Q -> a Q on the parent
    fetch: object  # (parents, child Q, Include) -> {parent pk: [children]}


def capped(qs, partition: str, order=("pk",)):
    """At most CHILD_CAP rows per partition (a parent), in order."""
    ordering = [F(o.lstrip("-")).desc() if o.startswith("-") else F(o).asc() for o in order]
    return (
        qs.annotate(_rank=Window(RowNumber(), partition_by=[F(partition)], order_by=ordering))
        .filter(_rank__lte=CHILD_CAP)
        .order_by(*order)
    )


def _grouped(rows, key) -> dict:
    grouped = {}
    for row in rows:
        grouped.setdefault(key(row), []).append(row)
    return grouped


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- The resources ------------------------------------------------------------------------------


class DatasetResource(Resource):
    def base(self):
        # Only what serialize and the relations' keys read, as columns of the row: a page of
        # included datasets (up to 100 per document) builds one model instance per row, not four.
        return (
            Dataset.objects.filter(investigation__release_date__lte=timezone.now())
            .annotate(
                panosc_created=Coalesce("start_date", "created"),
                panosc_instrument_id=F("investigation__instrument_id"),
                panosc_instrument=F("investigation__instrument__name"),
                panosc_technique_id=F("definition__technique_id"),
            )
            .only("id", "name", "size", "investigation_id", "sample_id")
        )

    def serialize(self, obj) -> dict:
        return {
            "pid": f"dataset-{obj.pk}",
            "title": obj.name,
            "isPublic": True,
            "creationDate": _iso(obj.panosc_created),
            "size": obj.size,
            "instrumentId": obj.panosc_instrument,
        }


class DocumentResource(Resource):
    def base(self):
        return Publication.objects.filter(state=Publication.State.FINDABLE).select_related("investigation")

    def serialize(self, obj) -> dict:
        session = obj.kind == Publication.Kind.SESSION
        inv = obj.investigation if session else None
        return {
            "pid": obj.doi,
            "isPublic": True,
            "type": "proposal" if session else "publication",
            "title": obj.title,
            "summary": obj.abstract,
            "doi": obj.doi,
            "startDate": _iso(inv.start_date) if inv else None,
            "endDate": _iso(inv.end_date) if inv else None,
            "releaseDate": _iso(obj.published),
            "license": obj.licence,
        }


class InstrumentResource(Resource):
    def base(self):
        return Instrument.objects.all()

    def serialize(self, obj) -> dict:
        return {"pid": obj.name, "name": obj.name, "facility": settings.FACILITY_NAME}


class TechniqueResource(Resource):
    def base(self):
        return Technique.objects.all()

    def serialize(self, obj) -> dict:
        return {"pid": obj.code, "name": obj.name, "panetId": PANET_PURL + obj.panet_id if obj.panet_id else None}


class SampleResource(Resource):
    def base(self):
        return Sample.objects.all()

    def serialize(self, obj) -> dict:
        return {"pid": f"sample-{obj.pk}", "name": obj.name, "description": obj.description}


class FileResource(Resource):
    def base(self):
        return Datafile.objects.all()

    def serialize(self, obj) -> dict:
        return {"id": obj.pk, "name": obj.path.rsplit("/", 1)[-1], "path": obj.path, "size": obj.size}


def _member_role():
    pi = InvestigationUser.objects.filter(
        Q(investigation_id=OuterRef("publication__investigation_id"))
        | Q(investigation__datasets__collections=OuterRef("publication__collection_id")),
        user_id=OuterRef("user_id"),
        role=InvestigationUser.Role.PRINCIPAL_INVESTIGATOR,
    )
    return Case(
        When(role="contributor", contributor_type="ContactPerson", then=Value("local contact")),
        When(role="contributor", then=Value("instrument scientist")),
        When(Exists(pi), then=Value("principal investigator")),
        default=Value("co-author"),
        output_field=CharField(),
    )


class MemberResource(Resource):
    def base(self):
        return PublicationPerson.objects.annotate(
            panosc_role=_member_role(),
            full_name=Case(
                When(given_name="", then=F("family_name")),
                default=Concat("given_name", Value(" "), "family_name"),
                output_field=CharField(),
            ),
        )

    def serialize(self, obj) -> dict:
        return {"id": obj.pk, "role": obj.panosc_role}


class PersonResource(MemberResource):
    def serialize(self, obj) -> dict:
        return {
            "id": f"person-{obj.pk}",
            "fullName": obj.full_name,
            "orcid": obj.orcid or None,
            "firstName": obj.given_name,
            "lastName": obj.family_name,
        }


class AffiliationResource(MemberResource):
    def serialize(self, obj) -> dict:
        return {"name": obj.affiliation}


class ParameterResource(Resource):
    """Parameter values: `name`, `value` (a number or a string) and `unit`. A condition on `unit`
    says which unit the values beside it are in: they are converted with pint to each parameter
    type's own unit before the comparison, and the values returned are converted back."""

    def base(self):
        return ParameterValue.objects.select_related("parameter_type")

    def where_q(self, where: Where | None) -> Q:
        if where is None:
            return Q()
        groups: dict[str, tuple[Q, list[int]]] = {}
        for ptype in _vocabulary():
            q = self._compile(where, ptype, None)
            if q is False:
                continue
            q = Q() if q is True else q
            groups.setdefault(str(q), (q, []))[1].append(ptype.pk)
        if not groups:
            return NOTHING
        return reduce(or_, (Q(parameter_type_id__in=ids) & q for q, ids in groups.values()))

    def _compile(self, where: Where, ptype, unit):
        """A Q, or True/False when the parameter type alone decides."""
        if where.kind == "text":
            return Q(parameter_type__name__icontains=where.text) | Q(text_value__icontains=where.text)
        if where.kind == "leaf":
            return self._leaf(where.leaf, ptype, unit)
        if where.kind == "and":
            units = {c.leaf.value for c in where.children if _is_unit(c)}
            if len(units) > 1:
                return False
            unit = next(iter(units), unit)
            parts = [self._compile(c, ptype, unit) for c in where.children]
            if any(p is False for p in parts):
                return False
            qs = [p for p in parts if p is not True]
            return reduce(and_, qs) if qs else True
        parts = [self._compile(c, ptype, unit) for c in where.children]
        if any(p is True for p in parts):
            return True
        qs = [p for p in parts if p is not False]
        return reduce(or_, qs) if qs else False

    def _leaf(self, leaf: Leaf, ptype, unit):
        if leaf.field == "id":
            return _lookup_q("pk", leaf.op, leaf.value)
        if leaf.field == "name":
            return _python_match(leaf.op, ptype.name, leaf.value)
        if leaf.field == "unit":
            if leaf.op != "eq":
                return _python_match(leaf.op, ptype.unit, leaf.value)
            return _compatible(leaf.value, ptype.unit)
        numeric = ptype.value_type == ParameterType.ValueType.NUMERIC
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        if all(isinstance(v, (int, float)) for v in values) and leaf.op not in ("like", "ilike", "nlike", "nilike"):
            if not numeric:
                return leaf.op in ("neq", "nin")
            try:
                stored = tuple(convert(v, unit, ptype.unit) if unit is not None else float(v) for v in values)
            except UnitError:
                return False
            if leaf.op == "eq":
                tolerance = abs(stored[0]) * 1e-9
                return Q(numeric_value__range=(stored[0] - tolerance, stored[0] + tolerance))
            if leaf.op == "between" and stored[0] > stored[1]:
                stored = (stored[1], stored[0])
            several = len(values) > 1 or leaf.op in ("inq", "nin")
            return _lookup_q("numeric_value", leaf.op, stored if several else stored[0])
        if numeric:
            return leaf.op in ("neq", "nin", "nlike", "nilike")
        if any(not isinstance(v, str) for v in values):
            return False
        return _lookup_q("text_value", leaf.op, leaf.value)

    def display_unit(self, include: Include) -> str | None:
        """The one unit the include's conditions name, in which values are returned."""
        units = set()

        def walk(where):
            if _is_unit(where):
                units.add(where.leaf.value)
            for child in where.children:
                walk(child)

        if include.where is not None:
            walk(include.where)
        return units.pop() if len(units) == 1 else None

    def serialize(self, obj, unit: str | None = None) -> dict:
        ptype = obj.parameter_type
        value, shown = (obj.numeric_value, ptype.unit) if obj.numeric_value is not None else (obj.text_value, "")
        if unit is not None and obj.numeric_value is not None and unit != ptype.unit:
            with contextlib.suppress(UnitError):
                value, shown = convert(obj.numeric_value, ptype.unit, unit, sent=obj.numeric_value), unit
        return {"id": obj.pk, "name": ptype.name, "value": value, "unit": shown}


def _is_unit(where: Where) -> bool:
    return where.kind == "leaf" and where.leaf.field == "unit" and where.leaf.op == "eq"


def _vocabulary() -> list:
    return list(ParameterType.objects.only("pk", "name", "unit", "value_type"))


def _compatible(unit: str, stored: str) -> bool:
    try:
        source, target = parse_unit(unit), parse_unit(stored)
    except UnitError:
        return False
    if source is None or target is None:
        return source is None and target is None
    return source.dimensionality == target.dimensionality


DATASET = DatasetResource(
    "Dataset",
    {
        "pid": Field("pk", to_db=_pid("dataset-")),
        "title": Field("name"),
        "isPublic": Field(None, "bool", const=True),
        "creationDate": Field("panosc_created", "date"),
        "size": Field("size", "number"),
    },
    text_fields=("name", "description"),
)
DOCUMENT = DocumentResource(
    "Document",
    {
        "pid": Field("doi", to_db=lambda v: v.upper() if isinstance(v, str) else None),
        "doi": Field("doi", to_db=lambda v: v.upper() if isinstance(v, str) else None),
        "isPublic": Field(None, "bool", const=True),
        "type": Field("kind", to_db=lambda v: {"proposal": "session", "publication": "selection"}.get(v)),
        "title": Field("title"),
        "summary": Field("abstract"),
        "license": Field("licence"),
        "releaseDate": Field("published", "date"),
        "startDate": Field("investigation__start_date", "date"),
        "endDate": Field("investigation__end_date", "date"),
    },
    text_fields=("title", "abstract"),
)
INSTRUMENT = InstrumentResource(
    "Instrument",
    {
        "pid": Field("name"),
        "name": Field("name"),
        "facility": Field(None, const=None),  # set from the settings when compiled (see leaf_q)
    },
    text_fields=("name", "full_name"),
    order=("name",),
)
TECHNIQUE = TechniqueResource(
    "Technique",
    {"pid": Field("code"), "name": Field("name"), "panetId": Field("panet_id", to_db=_panet)},
    text_fields=("name",),
)
SAMPLE = SampleResource(
    "Sample",
    {"pid": Field("pk", to_db=_pid("sample-")), "name": Field("name"), "description": Field("description")},
    text_fields=("name", "description"),
)
FILE = FileResource(
    "File",
    {"id": Field("pk", "number"), "name": Field("path"), "path": Field("path"), "size": Field("size", "number")},
    text_fields=("path",),
)
PARAMETER = ParameterResource(
    "Parameter",
    {
        "id": Field("pk", "number"),
        "name": Field("parameter_type__name"),
        "value": Field(None, "any"),
        "unit": Field(None),
    },
    text_fields=("parameter_type__name", "text_value"),
    order=("parameter_type__name", "pk"),
)
MEMBER = MemberResource("Member", {"role": Field("panosc_role")})
PERSON = PersonResource(
    "Person",
    {
        "fullName": Field("full_name"),
        "orcid": Field("orcid"),
        "firstName": Field("given_name"),
        "lastName": Field("family_name"),
    },
    text_fields=("given_name", "family_name"),
)
AFFILIATION = AffiliationResource("Affiliation", {"name": Field("affiliation")}, text_fields=("affiliation",))


def _instrument_leaf(leaf: Leaf, _leaf_q=INSTRUMENT.leaf_q) -> Q:
    if leaf.field == "facility":
        return Q() if _python_match(leaf.op, settings.FACILITY_NAME, leaf.value) else NOTHING
    return _leaf_q(leaf)


INSTRUMENT.leaf_q = _instrument_leaf


# --- The relations ------------------------------------------------------------------------------


def _children(target: Resource, fk: str, key=None):
    """A has-many relation whose child rows hold the parent's key in `fk` (read by key)."""
    key = key or (lambda row: getattr(row, fk))

    def exists(q):
        return Exists(target.base().filter(q, **{fk: OuterRef("pk")}))

    def fetch(parents, q, include):
        rows = capped(target.base().filter(q, **{f"{fk}__in": [p.pk for p in parents]}), fk, target.order)
        return _grouped(rows, key)

    return Relation(target, True, exists, fetch)


def _parent(target: Resource, key: str, outer: str, many: bool):
    """The parent row holds the child's key: `key` read on the parent object, `outer` in SQL."""

    def exists(q):
        return Exists(target.base().filter(q, pk=OuterRef(outer)))

    def fetch(parents, q, include):
        keys = {key(p) for p in parents} - {None}
        found = {row.pk: row for row in target.base().filter(q, pk__in=keys)}
        return {p.pk: [found[key(p)]] for p in parents if key(p) in found}

    return Relation(target, many, exists, fetch)


def _same_row(target: Resource):
    """Person and affiliation: columns of the member row itself."""
    return Relation(target, False, lambda q: q, lambda parents, q, include: {p.pk: [copy.copy(p)] for p in parents})


def _dataset_documents():
    selections = DataCollection.datasets.through

    def exists(q):
        return Exists(
            DOCUMENT.base()
            .filter(q)
            .filter(
                Q(kind=Publication.Kind.SESSION, investigation_id=OuterRef("investigation_id"))
                | Q(kind=Publication.Kind.SELECTION, collection__datasets=OuterRef("pk"))
            )
        )

    def fetch(parents, q, include):
        ids, investigations = [p.pk for p in parents], {p.investigation_id for p in parents}
        documents = list(
            DOCUMENT.base()
            .filter(q)
            .filter(
                Q(kind=Publication.Kind.SESSION, investigation_id__in=investigations)
                | Q(kind=Publication.Kind.SELECTION, collection__datasets__in=ids)
            )
            .distinct()
            .order_by("pk")
        )
        by_collection = {d.collection_id: d for d in documents if d.collection_id}
        links = selections.objects.filter(dataset_id__in=ids, datacollection_id__in=list(by_collection) or [0])
        held = _grouped(links.values_list("dataset_id", "datacollection_id"), lambda link: link[0])
        result = {}
        for p in parents:
            mine = [d for d in documents if d.investigation_id == p.investigation_id]
            mine += [by_collection[c] for _, c in held.get(p.pk, ())]
            if mine:
                result[p.pk] = mine[:CHILD_CAP]
        return result

    return Relation(DOCUMENT, True, exists, fetch)


def _document_datasets():
    selections = DataCollection.datasets.through

    def exists(q):
        return Exists(
            DATASET.base()
            .filter(q)
            .filter(Q(investigation_id=OuterRef("investigation_id")) | Q(collections=OuterRef("collection_id")))
        )

    def fetch(parents, q, include):
        sessions = {p.investigation_id: p.pk for p in parents if p.investigation_id}
        collections = {p.collection_id: p.pk for p in parents if p.collection_id}
        result = {}
        if sessions:
            rows = capped(DATASET.base().filter(q, investigation_id__in=list(sessions)), "investigation_id")
            for row in rows:
                result.setdefault(sessions[row.investigation_id], []).append(row)
        if collections:
            open_rows = DATASET.base().filter(q)
            links = capped(
                selections.objects.filter(datacollection_id__in=list(collections), dataset__in=open_rows.values("pk")),
                "datacollection_id",
                ("dataset_id",),
            ).values_list("datacollection_id", "dataset_id")
            links = list(links)
            rows = {row.pk: row for row in open_rows.filter(pk__in=[d for _, d in links])}
            for collection, dataset in links:
                if dataset in rows:
                    result.setdefault(collections[collection], []).append(rows[dataset])
        return result

    return Relation(DATASET, True, exists, fetch)


def _no_parameters():
    return Relation(PARAMETER, True, lambda q: NOTHING, lambda parents, q, include: {})


DATASET.relations.update(
    {
        "documents": _dataset_documents(),
        "instrument": _parent(INSTRUMENT, lambda d: d.panosc_instrument_id, "investigation__instrument_id", False),
        "techniques": _parent(TECHNIQUE, lambda d: d.panosc_technique_id, "definition__technique_id", True),
        "samples": _parent(SAMPLE, lambda d: d.sample_id, "sample_id", True),
        "files": _children(FILE, "dataset_id"),
        "parameters": _children(PARAMETER, "dataset_id"),
    }
)
DOCUMENT.relations.update(
    {"datasets": _document_datasets(), "members": _children(MEMBER, "publication_id"), "parameters": _no_parameters()}
)
INSTRUMENT.relations["datasets"] = _children(
    DATASET, "investigation__instrument_id", lambda row: row.panosc_instrument_id
)
MEMBER.relations.update({"person": _same_row(PERSON), "affiliation": _same_row(AFFILIATION)})


# --- Loading a page -----------------------------------------------------------------------------


def load(resource: Resource, rows: list, includes: list[Include]) -> None:
    """Fetch the included relations of these rows (and theirs), into row._panosc."""
    for row in rows:
        row._panosc = {}
    if not rows:
        return
    for include in includes:
        relation = resource.relations[include.relation]
        target = relation.target
        children = relation.fetch(rows, target.include_q(include), include)
        unit = target.display_unit(include) if isinstance(target, ParameterResource) else None
        flat = {id(c): c for kids in children.values() for c in kids}
        load(target, list(flat.values()), include.include)
        for row in rows:
            kids = children.get(row.pk, [])
            row._panosc[include.relation] = (kids, relation, include, unit)


def render(resource: Resource, row) -> dict:
    data = resource.serialize(row)
    for name, (kids, relation, _include, unit) in getattr(row, "_panosc", {}).items():
        target = relation.target
        shaped = []
        for kid in kids:
            shaped.append(target.serialize(kid, unit) if isinstance(target, ParameterResource) else render(target, kid))
        data[name] = shaped if relation.many else (shaped[0] if shaped else None)
    return data
