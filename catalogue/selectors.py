"""Reads: querysets already filtered by the access policy. Each list is one query."""

from collections import Counter

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from .access import Actor, investigation_q
from .models import AuditEntry, Datafile, Dataset, DatasetTally, Instrument, Investigation, InvestigationUser, Sample
from .tallies import year_expression


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
    # Only outputs the actor may see count: a released raw dataset must not reveal embargoed processing.
    outputs = (
        Dataset.inputs.through.objects.filter(to_dataset_id=OuterRef("pk"))
        .filter(investigation_q(actor, "from_dataset__investigation__"))
        .order_by()
        .values("to_dataset_id")
    )
    return (
        Dataset.objects.filter(investigation_q(actor, "investigation__"))
        .select_related("investigation__instrument", "sample", "definition__technique")
        .annotate(
            output_count=Coalesce(
                Subquery(outputs.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)
            )
        )
    )


# What a row of the portal's dataset tables shows (templates/jinja2/catalogue/_dataset_table.html).
TABLE_FIELDS = [*(name for name in DATASET_FIELDS if name not in ("investigation", "description")), "sample__name"]


def dataset_table_list(actor: Actor) -> QuerySet[Dataset]:
    """dataset_list with only the columns the portal's tables show: no investigation and instrument
    rows (the table's rows do not show them), and of the definition and technique only what the table
    reads (their rules, decoded from JSON on each of 50 rows, cost more than the rest of the query)."""
    return (
        dataset_list(actor)
        .select_related(None)
        .select_related("sample", "definition__technique")
        .only(*TABLE_FIELDS, "definition__code", "definition__label", "definition__technique__views")
    )


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

    Filters by investigation, instrument, definition, technique and year are answered from the
    tallies, summed over the visible investigations (one query). Any other filter needs `datasets`,
    the matching ones (already access-filtered), which are then counted: one GROUP BY over them."""
    given = _given(filters)
    if facets_are_tallied(filters):
        rows = (
            DatasetTally.objects.filter(investigation_q(actor, "investigation__"))
            .filter(**{TALLIED_FILTERS[name]: value for name, value in given.items()})
            .values("year", instrument=F("investigation__instrument__name"), technique=F("definition__technique__code"))
            .annotate(count=Sum("datasets"))
        )
    else:
        rows = (
            datasets.order_by()
            .values(
                instrument=F("investigation__instrument__name"),
                technique=F("definition__technique__code"),
                year=year_expression(),
            )
            .annotate(count=Count("id"))
        )
    counts = {facet: Counter() for facet in FACETS}
    for row in rows:
        for facet, counter in counts.items():
            counter[row[facet]] += row["count"]
    return {
        facet: [{"value": value, "count": n} for value, n in sorted(counter.items(), key=_facet_order(facet)) if n]
        for facet, counter in counts.items()
    }


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
