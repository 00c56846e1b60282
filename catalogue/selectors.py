"""Reads: querysets already filtered by the access policy. Each list is one query."""

from collections import Counter

from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from techniques.models import DatasetDefinition, Technique

from .access import Actor, investigation_q, member_investigation_ids
from .models import (
    AuditEntry,
    Datafile,
    Dataset,
    DatasetRollup,
    DatasetTally,
    Instrument,
    Investigation,
    InvestigationUser,
    Sample,
)
from .tallies import month_start, year_expression


def instrument_list() -> QuerySet[Instrument]:
    return Instrument.objects.all()


def _dataset_totals(investigation_ref: str):
    """Datasets and bytes of an investigation, summed over its tallies (a few rows, whatever its size)."""
    tallies = (
        DatasetTally.objects.filter(investigation_id=OuterRef(investigation_ref)).order_by().values("investigation_id")
    )
    count = Subquery(tallies.annotate(n=Sum("datasets")).values("n"), output_field=IntegerField())
    volume = Subquery(tallies.annotate(s=Sum("size")).values("s"))
    return {"dataset_count": Coalesce(count, Value(0)), "volume": Coalesce(volume, Value(0))}


def investigation_list(actor: Actor) -> QuerySet[Investigation]:
    return (
        Investigation.objects.filter(investigation_q(actor))
        .select_related("instrument")
        .annotate(**_dataset_totals("pk"))
    )


def my_investigation_list(actor: Actor) -> QuerySet[Investigation]:
    """Investigations the person takes part in (not merely public ones)."""
    if not actor.is_person:
        return Investigation.objects.none()
    return investigation_list(actor).filter(
        Exists(InvestigationUser.objects.filter(user=actor.user, investigation_id=OuterRef("pk")))
    )


def open_investigation_list(actor: Actor) -> QuerySet[Investigation]:
    return investigation_list(actor).filter(release_date__lte=timezone.now())


def embargoed_investigation_list(actor: Actor) -> QuerySet[Investigation]:
    return investigation_list(actor).filter(release_date__gt=timezone.now()).order_by("release_date", "id")


def beamline_list(actor: Actor) -> QuerySet[Instrument]:
    """The instruments whose beamline pages the actor may open."""
    if actor.is_admin:
        return Instrument.objects.all()
    if not actor.is_person:
        return Instrument.objects.none()
    return Instrument.objects.filter(scientists__user=actor.user)


def beamline_get(actor: Actor, name: str) -> Instrument:
    instrument = beamline_list(actor).filter(name=name).first()
    if instrument is None:
        raise Http404("No beamline found.")
    return instrument


def beamline_sessions(actor: Actor, instrument: Instrument) -> QuerySet[Investigation]:
    return Investigation.objects.filter(investigation_q(actor), instrument=instrument).order_by("start_date", "id")


def release_date_history(investigation: Investigation) -> QuerySet[AuditEntry]:
    """For staff: who moved the release date, when and why."""
    return AuditEntry.objects.filter(
        action="release_date.change", target_type="investigation", target_id=str(investigation.pk)
    ).select_related("actor")


def investigation_get(actor: Actor, pk: int) -> Investigation:
    investigation = investigation_list(actor).filter(pk=pk).first()
    if investigation is None:
        raise Http404("No investigation found.")
    return investigation


def sample_list(actor: Actor) -> QuerySet[Sample]:
    datasets = Dataset.objects.filter(sample_id=OuterRef("pk")).order_by().values("sample_id")
    return (
        Sample.objects.filter(investigation_q(actor, "investigation__"))
        .select_related("investigation__instrument")
        .annotate(
            dataset_count=Coalesce(
                Subquery(datasets.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)
            )
        )
    )


def sample_get(actor: Actor, pk: int) -> Sample:
    sample = sample_list(actor).filter(pk=pk).first()
    if sample is None:
        raise Http404("No sample found.")
    return sample


DATASET_FIELDS = [field.name for field in Dataset._meta.concrete_fields]
# Of the related rows the API shows names only: a definition row carries its rules and views as JSON.
API_RELATED_FIELDS = ["investigation__name", "investigation__visit_id", "sample__name", "definition__code"]


def readable_datasets(actor: Actor) -> QuerySet[Dataset]:
    """The datasets the actor may read, with no related row: for writes and downloads that name them."""
    return Dataset.objects.filter(investigation_q(actor, "investigation__"))


def dataset_list(actor: Actor, portal: bool = True) -> QuerySet[Dataset]:
    """portal=False: without output_count, and with only the investigation, sample and definition
    rows (what the API shows), for a cheaper page query."""
    if not portal:
        return (
            Dataset.objects.filter(investigation_q(actor, "investigation__"))
            .select_related("investigation", "sample", "definition")
            .only(*DATASET_FIELDS, *API_RELATED_FIELDS)
        )
    return (
        Dataset.objects.filter(investigation_q(actor, "investigation__"))
        .select_related("investigation__instrument", "sample", "definition__technique")
        .annotate(output_count=_output_count(actor))
    )


def _output_count(actor: Actor) -> Coalesce:
    """A dataset's processed datasets, of those the actor may see: a released raw dataset must not
    reveal embargoed processing."""
    outputs = (
        Dataset.inputs.through.objects.filter(to_dataset_id=OuterRef("pk"))
        .filter(investigation_q(actor, "from_dataset__investigation__"))
        .order_by()
        .values("to_dataset_id")
    )
    return Coalesce(Subquery(outputs.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0))


# What a row of the portal's dataset tables shows (templates/jinja2/catalogue/_dataset_table.html).
TABLE_FIELDS = [
    *("id", "name", "kind", "start_date", "file_count", "size", "storage_status", "online_until", "complete"),
    *("parameters", "warnings", "definition", "sample"),
]


def dataset_table_rows(actor: Actor, datasets: QuerySet[Dataset]) -> QuerySet[Dataset]:
    """What the portal's dataset tables show of `datasets` (the actor may read them): their own
    columns, not the investigation's and instrument's rows; their processed datasets that the actor
    may see (output_count); of the sample, definition and technique, the values the table reads, as
    the row's own (sample_name, definition_label; technique_id and technique_views for its columns,
    catalogue.portal.pages.table_columns). A definition's rules, decoded from JSON on each of 50
    rows, cost more than the rest of the query, and a sample, a definition and a technique object
    per row (instances with deferred fields) 1.5 ms of CPU a page."""
    return (
        datasets.select_related(None)
        .only(*TABLE_FIELDS)
        .annotate(
            output_count=_output_count(actor),
            sample_name=F("sample__name"),
            definition_label=F("definition__label"),
            technique_id=F("definition__technique_id"),
            technique_views=F("definition__technique__views"),
        )
    )


def dataset_table_list(actor: Actor) -> QuerySet[Dataset]:
    """The datasets the actor may read, as the portal's dataset tables show them."""
    return dataset_table_rows(actor, readable_datasets(actor))


def investigation_dataset_list(investigation: Investigation) -> QuerySet[Dataset]:
    """The datasets of an investigation that investigation_get gave: its access was checked once, so
    its datasets are not checked again (a page of a person's investigation probed the policy for
    each row and each row its OFFSET skipped: 5,000 on page 100 of 10,000 datasets)."""
    return Dataset.objects.filter(investigation=investigation)


def dataset_get(actor: Actor, pk: int) -> Dataset:
    dataset = dataset_list(actor).filter(pk=pk).first()
    if dataset is None:
        raise Http404("No dataset found.")
    return dataset


def dataset_related(actor: Actor, dataset: Dataset) -> tuple[list[Dataset], list[Dataset]]:
    """The inputs and outputs of a dataset that the actor may see."""
    visible = Dataset.objects.filter(investigation_q(actor, "investigation__")).select_related("definition")
    inputs = list(visible.filter(outputs=dataset).order_by("start_date", "id"))
    outputs = list(visible.filter(inputs=dataset).order_by("start_date", "id"))
    return inputs, outputs


# The dataset search's filters that the tallies answer, as lookups on DatasetTally.
TALLIED_FILTERS = {
    "investigation": "investigation_id",
    "instrument": "investigation__instrument__name",
    "definition": "definition",
    "technique": "definition__technique__code",
    "year": "year",
}
# Those that the rollups answer too (all but the investigation), as lookups on DatasetRollup.
ROLLED_UP_FILTERS = {
    "instrument": "instrument__name",
    "definition": "definition",
    "technique": "definition__technique__code",
    "year": "year",
}
FACETS = ("instrument", "technique", "year")


def _given(filters: dict | None) -> dict:
    return {name: value for name, value in (filters or {}).items() if value is not None and value != ""}


def facets_are_tallied(filters: dict | None) -> bool:
    """Whether dataset_facets answers these filters from the tallies, without counting datasets."""
    return _given(filters).keys() <= TALLIED_FILTERS.keys()


def dataset_facets(
    actor: Actor, filters: dict | None = None, datasets: QuerySet[Dataset] | None = None
) -> dict[str, list[dict]]:
    """How many datasets the actor may read per instrument, technique and start year, among those
    that match the filters (a DatasetFilterSet's cleaned data): {facet: [{"value", "count"}]}.

    Filters by instrument, definition, technique and year are answered from the rollups and tallies
    (_rolled_up_counts), a filter by investigation from the tallies of the visible investigations
    (a few rows): one query. Any other filter needs `datasets`, the matching ones (already
    access-filtered), which are then counted: one GROUP BY over them."""
    given = _given(filters)
    if not facets_are_tallied(filters):
        grouped = _grouped(datasets, "investigation__instrument_id", year_expression(), Count("id"))
    elif given.keys() <= ROLLED_UP_FILTERS.keys():
        grouped = _rolled_up_counts(actor, given)
    else:
        tallies = DatasetTally.objects.filter(investigation_q(actor, "investigation__"))
        grouped = _summed_tallies(tallies.filter(**{TALLIED_FILTERS[name]: value for name, value in given.items()}))
    counts = {facet: Counter() for facet in FACETS}
    for instrument, technique, year, n in _named(grouped):
        counts["instrument"][instrument] += n
        counts["technique"][technique] += n
        counts["year"][year] += n
    return {
        facet: [{"value": value, "count": n} for value, n in sorted(counter.items(), key=_facet_order(facet)) if n]
        for facet, counter in counts.items()
    }


def _rolled_up_counts(actor: Actor, given: dict) -> QuerySet:
    """Datasets per instrument, technique and year (rows to add up; one query). An admin's: every
    rollup. Anyone else's: the rollups of the months before this one, all released by now; the
    tallies of the investigations released since the month began; and the tallies of the actor's own
    investigations not released yet, looked up from the actor's side. Rows read: instruments x
    definitions x years x months, this month's releases and the actor's own embargoed
    investigations, not every investigation."""
    rollups = DatasetRollup.objects.filter(**{ROLLED_UP_FILTERS[name]: value for name, value in given.items()})
    if actor.is_admin:
        return _summed_rollups(rollups)
    now = timezone.now()
    this_month = month_start(now)
    tallies = DatasetTally.objects.filter(**{TALLIED_FILTERS[name]: value for name, value in given.items()})
    parts = [
        _summed_rollups(rollups.filter(release_month__lt=this_month.date())),
        _summed_tallies(
            tallies.filter(investigation__release_date__gte=this_month, investigation__release_date__lte=now)
        ),
    ]
    members = member_investigation_ids(actor)
    if members is not None:
        parts.append(_summed_tallies(tallies.filter(investigation__release_date__gt=now, investigation_id__in=members)))
    return parts[0].union(*parts[1:], all=True)


def _summed_rollups(rollups: QuerySet[DatasetRollup]) -> QuerySet:
    return _grouped(rollups, "instrument_id", F("year"), Sum("datasets"))


def _summed_tallies(tallies: QuerySet[DatasetTally]) -> QuerySet:
    return _grouped(tallies, "investigation__instrument_id", F("year"), Sum("datasets"))


def _grouped(rows: QuerySet, instrument_id: str, year, count) -> QuerySet:
    """Datasets, tallies or rollups grouped per instrument, definition and start year, with the
    datasets they count: the same columns whatever the rows, for a UNION and for _named."""
    return (
        rows.order_by()
        .values(instrument_key=F(instrument_id), definition_key=F("definition_id"), start_year=year)
        .annotate(counted=count)
    )


def _named(grouped: QuerySet) -> list[tuple]:
    """The datasets of `grouped` per instrument name, technique code and start year: the names are
    joined to its groups rather than to every row they sum, which halves the time of the facets
    over 20,000 rollups."""
    select, params = grouped.query.sql_with_params()
    instruments, definitions, techniques = (
        model._meta.db_table for model in (Instrument, DatasetDefinition, Technique)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # The year as an integer: PostgreSQL's EXTRACT of a dataset's is numeric.
            f"SELECT i.name, t.code, CAST(g.start_year AS integer), SUM(g.counted) FROM ({select}) g"
            f" JOIN {instruments} i ON i.id = g.instrument_key"
            f" LEFT JOIN {definitions} d ON d.id = g.definition_key"
            f" LEFT JOIN {techniques} t ON t.id = d.technique_id"
            " GROUP BY 1, 2, 3",
            params,
        )
        return cursor.fetchall()


def _facet_order(facet: str):
    """By name, the latest year first; None (no definition, no start date) last."""
    if facet == "year":
        return lambda item: (item[0] is None, -(item[0] or 0))
    return lambda item: (item[0] is None, item[0] or "")


def datafile_list(actor: Actor) -> QuerySet[Datafile]:
    return Datafile.objects.filter(investigation_q(actor, "dataset__investigation__"))


def search(actor: Actor, text: str, limit: int = 20) -> dict:
    """Investigations, samples and datasets whose names contain the text."""
    text = text.strip()
    if not text:
        return {"investigations": [], "samples": [], "datasets": []}
    return {
        "investigations": list(
            investigation_list(actor).filter(Q(name__icontains=text) | Q(title__icontains=text))[:limit]
        ),
        "samples": list(sample_list(actor).filter(name__icontains=text)[:limit]),
        "datasets": list(dataset_list(actor).filter(name__icontains=text)[:limit]),
    }
