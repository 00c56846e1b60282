"""Reads of publications, filtered by who asks.

Published (findable) and withdrawn publications are public: their landing pages (a tombstone for
a withdrawn one) are open to everybody. A draft, reserved or in-review publication is seen by
staff, by its owner and, for a session DOI, by the people who read the investigation. Datasets
on a landing page carry whether the reader may open them (released data are public).
"""

from dataclasses import dataclass

from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Min, Q, QuerySet, Sum, Value
from django.http import Http404
from django.utils import timezone

from catalogue.access import Actor, investigation_q
from catalogue.models import DataCollection, Dataset, Instrument, Investigation, InvestigationUser
from techniques.models import Technique

from .datacite import Facts
from .models import Publication

PUBLIC_STATES = (Publication.State.FINDABLE, Publication.State.WITHDRAWN)
MINTERS = (InvestigationUser.Role.PRINCIPAL_INVESTIGATOR, InvestigationUser.Role.CO_PROPOSER)


def publication_q(actor: Actor) -> Q:
    q = Q(state__in=PUBLIC_STATES)
    if actor.is_admin:
        return Q()
    if actor.is_person:
        readable = Investigation.objects.filter(investigation_q(actor)).values("pk")
        q |= Q(owner=actor.user) | Q(kind=Publication.Kind.SESSION, investigation__in=readable)
    return q


def publication_get(actor: Actor, doi: str) -> Publication:
    """By its DOI (any case), or 404 when missing or not the actor's to see."""
    publication = (
        Publication.objects.filter(publication_q(actor), doi=doi.upper())
        .select_related("investigation__instrument", "owner")
        .first()
    )
    if publication is None:
        raise Http404("No such DOI.")
    return publication


def publication_find(actor: Actor, pk: int) -> Publication:
    publication = Publication.objects.filter(publication_q(actor), pk=pk).first()
    if publication is None:
        raise Http404("No such publication.")
    return publication


def my_publications(actor: Actor) -> QuerySet[Publication]:
    """The publications the person made, and those of the sessions they lead."""
    if not actor.is_person:
        return Publication.objects.none()
    led = InvestigationUser.objects.filter(user=actor.user, role__in=MINTERS).values("investigation_id")
    return Publication.objects.filter(Q(owner=actor.user) | Q(investigation__in=led)).select_related("investigation")


def mintable_investigations(actor: Actor) -> QuerySet[Investigation]:
    """Sessions the person may mint a DOI for (PI, co-proposer; staff: any) that have none yet."""
    if not actor.is_person:
        return Investigation.objects.none()
    qs = Investigation.objects.exclude(publications__kind=Publication.Kind.SESSION)
    if not actor.is_admin:
        qs = qs.filter(members__user=actor.user, members__role__in=MINTERS).distinct()
    return qs.select_related("instrument")


def review_queue(actor: Actor) -> QuerySet[Publication]:
    if not actor.is_admin:
        return Publication.objects.none()
    return Publication.objects.filter(state=Publication.State.REVIEW)


def publication_datasets(publication: Publication) -> QuerySet[Dataset]:
    if publication.kind == Publication.Kind.SESSION:
        return Dataset.objects.filter(investigation_id=publication.investigation_id)
    return Dataset.objects.filter(collections=publication.collection_id)


def landing_datasets(actor: Actor, publication: Publication, limit: int = 200) -> list[Dataset]:
    """The publication's datasets with `readable` (the actor may open it), its investigation's
    release date and storage state; at most `limit`."""
    readable = (
        Value(True) if actor.is_admin else ExpressionWrapper(investigation_q(actor, "investigation__"), BooleanField())
    )
    return list(
        publication_datasets(publication)
        .annotate(
            readable=readable,
            released=ExpressionWrapper(Q(investigation__release_date__lte=timezone.now()), BooleanField()),
        )
        .select_related("investigation")
        .only("name", "size", "file_count", "storage_status", "investigation__release_date")
        .order_by("start_date", "id")[:limit]
    )


def publication_facts(publication: Publication) -> Facts:
    datasets = publication_datasets(publication)
    totals = datasets.aggregate(n=Sum(Value(1)), size=Sum("size"), start=Min("start_date"), end=Max("end_date"))
    investigations = Investigation.objects.filter(pk__in=datasets.values("investigation_id"))
    if publication.kind == Publication.Kind.SESSION:
        investigations = Investigation.objects.filter(pk=publication.investigation_id)
    spans = investigations.aggregate(start=Min("start_date"), end=Max("end_date"), release=Max("release_date"))
    techniques = Technique.objects.filter(definitions__datasets__in=datasets).distinct().order_by("name")
    instruments = Instrument.objects.filter(investigations__in=investigations).distinct().order_by("name")
    return Facts(
        datasets=totals["n"] or 0,
        size=totals["size"] or 0,
        techniques=tuple((t.name, t.panet_id) for t in techniques),
        instruments=tuple((i.name, i.full_name) for i in instruments),
        start=totals["start"] if totals["start"] and totals["end"] else spans["start"],
        end=totals["end"] if totals["start"] and totals["end"] else spans["end"],
        release=spans["release"],
        proposals=tuple(sorted({f"{i.name}" for i in investigations})),
    )


@dataclass(frozen=True)
class PageFacts:
    """A publication's facts with what its OAI-PMH sets are made of (instrument names, technique codes)."""

    facts: Facts
    instruments: tuple
    techniques: tuple


def publications_facts(publications: list[Publication]) -> dict[int, PageFacts]:
    """publication_facts of a page of publications, in a fixed number of queries whatever its size
    (two for its sessions, three for its selections): for OAI-PMH lists. The sessions' investigations
    are read from the publications (select_related("investigation__instrument"))."""
    sessions = {p.investigation_id: p for p in publications if p.kind == Publication.Kind.SESSION}
    selections = {p.collection_id: p for p in publications if p.kind == Publication.Kind.SELECTION}
    totals: dict[tuple, dict] = {}
    techniques: dict[tuple, dict] = {}
    if sessions:
        datasets = Dataset.objects.filter(investigation_id__in=list(sessions))
        for row in datasets.values("investigation_id").annotate(
            n=Count("id"), size=Sum("size"), start=Min("start_date"), end=Max("end_date")
        ):
            totals[("session", row["investigation_id"])] = row
        for key, code, name, panet in (
            datasets.filter(definition__technique__isnull=False)
            .values_list(
                "investigation_id",
                "definition__technique__code",
                "definition__technique__name",
                "definition__technique__panet_id",
            )
            .distinct()
            .order_by()
        ):
            techniques.setdefault(("session", key), {})[code] = (name, panet)
    investigations: dict[int, list] = {}
    if selections:
        links = DataCollection.datasets.through.objects.filter(datacollection_id__in=list(selections))
        for row in links.values("datacollection_id").annotate(
            n=Count("dataset_id"),
            size=Sum("dataset__size"),
            start=Min("dataset__start_date"),
            end=Max("dataset__end_date"),
            inv_start=Min("dataset__investigation__start_date"),
            inv_end=Max("dataset__investigation__end_date"),
            release=Max("dataset__investigation__release_date"),
        ):
            totals[("selection", row["datacollection_id"])] = row
        for key, code, name, panet in (
            links.filter(dataset__definition__technique__isnull=False)
            .values_list(
                "datacollection_id",
                "dataset__definition__technique__code",
                "dataset__definition__technique__name",
                "dataset__definition__technique__panet_id",
            )
            .distinct()
            .order_by()
        ):
            techniques.setdefault(("selection", key), {})[code] = (name, panet)
        for key, *row in (
            links.values_list(
                "datacollection_id",
                "dataset__investigation__name",
                "dataset__investigation__instrument__name",
                "dataset__investigation__instrument__full_name",
            )
            .distinct()
            .order_by()
        ):
            investigations.setdefault(key, []).append(row)
    result = {}
    for publication in publications:
        if publication.kind == Publication.Kind.SESSION:
            key = ("session", publication.investigation_id)
            inv = publication.investigation
            spans = {"start": inv.start_date, "end": inv.end_date, "release": inv.release_date}
            instruments = {(inv.instrument.name, inv.instrument.full_name)}
            proposals = {inv.name}
        else:
            key = ("selection", publication.collection_id)
            row = totals.get(key, {})
            spans = {"start": row.get("inv_start"), "end": row.get("inv_end"), "release": row.get("release")}
            held = investigations.get(publication.collection_id, [])
            instruments = {(name, full) for _, name, full in held}
            proposals = {name for name, _, _ in held}
        row = totals.get(key, {})
        both = row.get("start") and row.get("end")
        used = sorted(techniques.get(key, {}).items(), key=lambda item: item[1][0])
        facts = Facts(
            datasets=row.get("n") or 0,
            size=row.get("size") or 0,
            techniques=tuple(value for _, value in used),
            instruments=tuple(sorted(instruments)),
            start=row["start"] if both else spans["start"],
            end=row["end"] if both else spans["end"],
            release=spans["release"],
            proposals=tuple(sorted(proposals)),
        )
        result[publication.pk] = PageFacts(
            facts, tuple(sorted(name for name, _ in instruments)), tuple(sorted(code for code, _ in used))
        )
    return result


def publication_people(publication: Publication) -> list:
    return list(publication.people.all())


def harvestable() -> QuerySet[Publication]:
    """What OAI-PMH and the PaNOSC API show: published DOIs, and withdrawn ones (as deleted)."""
    return Publication.objects.filter(state__in=PUBLIC_STATES)
