"""Reads of publications, filtered by who asks.

Published (findable) and withdrawn publications are public: their landing pages (a tombstone for
a withdrawn one) are open to everybody. A draft, reserved or in-review publication is seen by
staff, by its owner and, for a session DOI, by the people who read the investigation. Datasets
on a landing page carry whether the reader may open them (released data are public).
"""

from django.db.models import BooleanField, ExpressionWrapper, Max, Min, Q, QuerySet, Sum, Value
from django.http import Http404
from django.utils import timezone

from catalogue.access import Actor, investigation_q
from catalogue.models import Dataset, Instrument, Investigation, InvestigationUser
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


def publication_people(publication: Publication) -> list:
    return list(publication.people.all())


def harvestable() -> QuerySet[Publication]:
    """What OAI-PMH and the PaNOSC API show: published DOIs, and withdrawn ones (as deleted)."""
    return Publication.objects.filter(state__in=PUBLIC_STATES)
