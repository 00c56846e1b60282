"""Reads for the portal pages: parameters with their vocabulary labels and units, and the views
that technique definitions declare (tabs, result tables, gallery, table columns).

Nothing here knows a technique: every name comes from the definition files.
"""

import operator
import re
from dataclasses import dataclass, field
from functools import reduce

from django.db.models import Case, Q, QuerySet, Value, When
from django.http import QueryDict

from catalogue.models import (
    WEB_IMAGE,
    WEB_IMAGE_EXTENSIONS,
    Datafile,
    Dataset,
    Instrument,
    Investigation,
    InvestigationUser,
)
from techniques.loading import result_cell
from techniques.models import ParameterType, Technique
from techniques.units import unit_symbol

# Images shown per dataset page: a gallery is a preview, not a file browser.
GALLERY_LIMIT = 24
# Thumbnails in the dataset table's expanded row, as the ESRF's portal shows them.
ROW_THUMBNAILS = 4

# Parameters shown in a dataset's summary when its definition names none.
SUMMARY_FALLBACK = 12


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    value: object
    unit: str  # display symbol, e.g. "Å"
    description: str = ""

    @property
    def group(self) -> str:
        """The prefix before the first underscore: MX, MXAutoprocIntegration, InstrumentMonochromator."""
        return self.name.split("_", 1)[0]


def _vocabulary(names) -> dict[str, ParameterType]:
    return {t.name: t for t in ParameterType.objects.filter(name__in=list(names))} if names else {}


def parameter_rows(values: dict, names: list[str], types: dict[str, ParameterType] | None = None) -> list[Parameter]:
    """The named parameters present in values, in the order given; one query for the vocabulary
    unless the types are given."""
    names = [name for name in names if name in values]
    types = _vocabulary(names) if types is None else types
    rows = []
    for name in names:
        parameter_type = types.get(name)
        if parameter_type is None:  # dropped from the vocabulary since the dataset was stored
            rows.append(Parameter(name, name, values[name], ""))
        else:
            rows.append(
                Parameter(
                    name,
                    parameter_type.label,
                    values[name],
                    unit_symbol(parameter_type.unit),
                    parameter_type.description,
                )
            )
    return rows


def dataset_summary(dataset: Dataset) -> list[Parameter]:
    """The key parameters of a dataset: its definition's summary, else the first ones by name."""
    summary = dataset.definition.summary if dataset.definition else []
    if not any(name in dataset.parameters for name in summary):
        summary = sorted(dataset.parameters)[:SUMMARY_FALLBACK]
    return parameter_rows(dataset.parameters, summary)


def grouped_parameters(
    values: dict, types: dict[str, ParameterType] | None = None
) -> list[tuple[str, list[Parameter]]]:
    """All parameters, grouped by prefix, groups and names sorted."""
    groups: dict[str, list[Parameter]] = {}
    for row in parameter_rows(values, sorted(values), types):
        groups.setdefault(row.group, []).append(row)
    return sorted(groups.items())


@dataclass(frozen=True)
class ResultTable:
    title: str
    columns: list[tuple[str, str]]  # (label, unit symbol)
    rows: list[tuple[str, list]]  # (label, a value or None per column)


@dataclass
class DatasetPage:
    """What a dataset's definition says its page shows; the tabs and tables with no value are left out."""

    tabs: list[tuple[str, list[Parameter]]] = field(default_factory=list)
    results: list[ResultTable] = field(default_factory=list)
    groups: list[tuple[str, list[Parameter]]] = field(default_factory=list)
    gallery: list[Datafile] = field(default_factory=list)
    plots: list[Datafile] = field(default_factory=list)

    @property
    def image_count(self) -> int:
        """The gallery tab's badge: its images and plots (up to GALLERY_LIMIT in all)."""
        return len(self.gallery) + len(self.plots)


def _result_table(spec: dict, values: dict, types: dict[str, ParameterType]) -> ResultTable | None:
    columns, rows = [], []
    for column in spec["columns"]:
        cells = [result_cell(spec, row["key"], column["key"]) for row in spec["rows"]]
        unit = next((types[c].unit for c in cells if c in types), "")
        columns.append((column["label"], unit_symbol(unit)))
    for row in spec["rows"]:
        cells = [values.get(result_cell(spec, row["key"], column["key"])) for column in spec["columns"]]
        if any(cell is not None for cell in cells):
            rows.append((row["label"], cells))
    return ResultTable(spec["title"], columns, rows) if rows else None


def glob_regex(pattern: str) -> str:
    """A file pattern of a definition ("gallery/*.png") as an anchored SQL-portable regex."""
    parts = {"*": "[^/]*", "?": "[^/]"}
    return "^" + "".join(parts.get(char, re.escape(char)) for char in pattern) + "$"


def _glob_condition(pattern: str) -> Q:
    """The files a pattern matches: LIKEs on its literal text before the first and after the last
    wildcard, then its regex. SQL evaluates an AND left to right, so the regex only runs on the
    few candidates, not on every file of a dataset with 100,000 of them."""
    parts = re.split(r"[*?]", pattern)
    condition = Q()
    if parts[0]:
        condition &= Q(path__startswith=parts[0])
    if parts[-1]:
        condition &= Q(path__endswith=parts[-1])
    return condition & Q(path__regex=glob_regex(pattern))


def _files_matching(dataset: Dataset, patterns: list[str], limit: int = GALLERY_LIMIT) -> list[Datafile]:
    matching = reduce(operator.or_, (_glob_condition(p) for p in patterns))
    if all(p.lower().endswith(WEB_IMAGE_EXTENSIONS) for p in patterns):
        # The index's own condition, so that PostgreSQL reads the partial index of web images
        # (a few rows) rather than every path of the dataset (28 ms for 100,000 files).
        matching &= WEB_IMAGE
    return list(Datafile.objects.filter(matching, dataset=dataset).order_by("path")[:limit])


def dataset_page(dataset: Dataset) -> DatasetPage:
    """One vocabulary query, and one file query when the definition names gallery or plot files."""
    views = dataset.definition.views if dataset.definition else {}
    values = dataset.parameters
    types = _vocabulary(values)
    page = DatasetPage(groups=grouped_parameters(values, types))
    for tab in views.get("tabs", []):
        if rows := parameter_rows(values, tab["fields"], types):
            page.tabs.append((tab["title"], rows))
    page.results = [t for spec in views.get("results", []) if (t := _result_table(spec, values, types))]
    patterns = {"gallery": views.get("gallery", []), "plots": views.get("plots", [])}
    if any(patterns.values()):
        files = _files_matching(dataset, patterns["gallery"] + patterns["plots"])
        plots = [re.compile(glob_regex(p)) for p in patterns["plots"]]
        page.plots = [f for f in files if any(p.match(f.path) for p in plots)]
        page.gallery = [f for f in files if f not in page.plots]
    return page


def row_thumbnails(dataset: Dataset) -> list[Datafile]:
    """The first images of a dataset's gallery (else of its plots) for the table's expanded row: one
    query when the definition names any, none otherwise."""
    views = dataset.definition.views if dataset.definition else {}
    patterns = views.get("gallery") or views.get("plots") or []
    return _files_matching(dataset, patterns, ROW_THUMBNAILS) if patterns else []


def is_gallery_file(dataset: Dataset, path: str) -> bool:
    """Whether the dataset's definition shows this file in its gallery or plots."""
    views = dataset.definition.views if dataset.definition else {}
    patterns = views.get("gallery", []) + views.get("plots", [])
    return any(re.match(glob_regex(p), path) for p in patterns)


def table_columns(datasets) -> list[dict]:
    """The extra columns of a dataset table: those of the technique every dataset listed belongs to.

    A table mixing techniques (or with no definitions) keeps the generic columns only; choosing a
    definition in the filters narrows it to one technique. Each dataset gets .column_values.
    Costs no query: each dataset of selectors.dataset_table_list comes with its technique's views,
    which hold the columns' labels and units.
    """
    views = {d.technique_id: d.technique_views for d in datasets if d.definition_id}
    columns = views.popitem()[1].get("columns", []) if len(views) == 1 else []
    for dataset in datasets:
        dataset.column_values = [dataset.parameters.get(column["name"]) for column in columns]
    return columns


def investigation_members(investigation: Investigation) -> QuerySet[InvestigationUser]:
    """Participants and their roles, principal investigators first."""
    roles = InvestigationUser.Role.values
    role_order = Case(*[When(role=role, then=Value(i)) for i, role in enumerate(roles)], default=Value(len(roles)))
    return (
        InvestigationUser.objects.filter(investigation=investigation)
        .select_related("user")
        .order_by(role_order, "user__last_name", "user__first_name", "user__username")
    )


FACET_LABELS = {"instrument": "Instrument", "technique": "Technique", "year": "Start year"}
# What a facet value None stands for (no filter selects it, so it links nowhere).
FACET_NONE = {"technique": "No definition", "year": "No start date"}


def facet_sidebar(query: QueryDict, facets: dict[str, list[dict]], technique_names: dict[str, str]) -> list[dict]:
    """The facets of the search page (selectors.dataset_facets): each value links to the search
    narrowed to it, the value already chosen links back to the search without it."""
    sections = []
    for facet, counts in facets.items():
        chosen = query.get(facet, "")
        entries = []
        for entry in counts:
            value, active, url = entry["value"], str(entry["value"]) == chosen, None
            if value is not None:
                narrowed = query.copy()
                narrowed.pop("page", None)
                if active:
                    del narrowed[facet]
                else:
                    narrowed[facet] = value
                url = f"?{narrowed.urlencode()}"
            if value is None:
                label = FACET_NONE[facet]
            else:
                label = technique_names.get(value, value) if facet == "technique" else value
            entries.append({"label": label, "count": entry["count"], "url": url, "active": active})
        sections.append({"key": facet, "label": FACET_LABELS[facet], "entries": entries})
    return sections


def search_choices() -> dict:
    """The choices of the dataset search form: the vocabulary (for the parameter typeahead),
    instruments and techniques."""
    return {
        "vocabulary": ParameterType.objects.only("name", "label", "unit").order_by("name"),
        "instruments": Instrument.objects.values_list("name", flat=True),
        "techniques": Technique.objects.only("code", "name"),
    }
