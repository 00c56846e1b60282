"""Reads of the shipping app: querysets filtered by shipping.access in SQL, a fixed number of
queries per list."""

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from catalogue import access as catalogue_access
from catalogue.access import Actor
from catalogue.models import Dataset, Instrument, Investigation, InvestigationUser, Sample

from . import access
from .models import Address, Item, Parcel, ParcelStatus, Shipment, Status


def shipment_list(actor: Actor) -> QuerySet[Shipment]:
    return (
        Shipment.objects.filter(access.investigation_q(actor, "investigation__"))
        .select_related("investigation__instrument")
        .annotate(parcel_count=Count("parcels"))
    )


def shipment_get(actor: Actor, pk: int) -> Shipment:
    shipment = (
        shipment_list(actor).select_related("shipping_address", "return_address", "technique").filter(pk=pk).first()
    )
    if shipment is None:
        raise Http404("No shipment found.")
    return shipment


def parcel_list(actor: Actor) -> QuerySet[Parcel]:
    return Parcel.objects.filter(access.investigation_q(actor, "shipment__investigation__")).select_related(
        "shipment__investigation__instrument"
    )


def parcel_get(actor: Actor, pk: int) -> Parcel:
    parcel = (
        parcel_list(actor)
        .select_related("shipment__shipping_address", "shipment__return_address", "shipment__technique")
        .filter(pk=pk)
        .first()
    )
    if parcel is None:
        raise Http404("No parcel found.")
    return parcel


def parcel_by_barcode(actor: Actor, barcode: str) -> Parcel | None:
    return parcel_list(actor).filter(barcode=barcode.strip()).first()


def parcel_history(parcel: Parcel) -> QuerySet[ParcelStatus]:
    return parcel.statuses.order_by("created", "id")


def parcel_items(actor: Actor, parcel: Parcel) -> list[Item]:
    """The parcel's items as a tree (each with .nodes, its children in order), each sample item with
    .datasets: the datasets measured on its catalogue sample that the actor may read. Two queries."""
    items = list(parcel.items.select_related("sample").order_by("position", "name", "id"))
    datasets = defaultdict(list)
    sample_ids = [item.sample_id for item in items if item.sample_id]
    if sample_ids:
        visible = Dataset.objects.filter(catalogue_access.investigation_q(actor, "investigation__"))
        for dataset in visible.filter(sample_id__in=sample_ids).only("id", "name", "sample_id", "start_date"):
            datasets[dataset.sample_id].append(dataset)
    by_parent = defaultdict(list)
    for item in items:
        item.datasets = datasets.get(item.sample_id, [])
        by_parent[item.parent_id].append(item)
    for item in items:
        item.nodes = by_parent.get(item.pk, [])
    return by_parent[None]


def parcel_containers(parcel: Parcel) -> QuerySet[Item]:
    """Where a new item may go: the parcel's sample sheets and containers."""
    return parcel.items.filter(type__in=[Item.Type.SAMPLESHEET, Item.Type.CONTAINER]).order_by("name", "id")


def address_list(actor: Actor, investigation: Investigation | None = None) -> QuerySet[Address]:
    """The person's own addresses and those of the investigation (when they take part in it)."""
    if not actor.is_person:
        return Address.objects.none()
    q = Q(owner=actor.user)
    if investigation is not None:
        member = InvestigationUser.objects.filter(user=actor.user, investigation_id=OuterRef("investigation_id"))
        q |= Q(Exists(member), investigation=investigation)
    return Address.objects.filter(q)


def sample_items(actor: Actor, sample_pk: int) -> tuple[Sample, list[Item]]:
    """A catalogue sample and the items that sent it, with their parcel, container and history."""
    sample = (
        Sample.objects.filter(access.investigation_q(actor, "investigation__"), pk=sample_pk)
        .select_related("investigation")
        .first()
    )
    if sample is None:
        raise Http404("No sample found.")
    items = list(
        Item.objects.filter(sample=sample)
        .select_related("parcel__shipment", "parent")
        .prefetch_related(Prefetch("parcel__statuses", queryset=ParcelStatus.objects.order_by("created", "id")))
    )
    return sample, items


def sample_tracking(actor: Actor, sample: Sample) -> list[Item]:
    """The items that sent this catalogue sample, in parcels the actor may see, each with its parcel,
    container and status history: one query, and one more for the histories when there are items;
    none for a visitor who is not signed in."""
    if not (actor.is_person or actor.api_key is not None):
        return []
    items = (
        Item.objects.filter(access.investigation_q_in_sql(actor, "parcel__shipment__investigation__"))
        .filter(sample_id=sample.pk)
        .select_related("parcel", "parent")
        .prefetch_related(Prefetch("parcel__statuses", queryset=ParcelStatus.objects.order_by("created", "id")))
        .order_by("parcel__created", "parcel_id", "id")
    )
    return list(items)


# --- Beamline software -------------------------------------------------------------------------


def running_session(instrument: Instrument, now: datetime | None = None) -> Investigation | None:
    """The instrument's session under way now, else the last that started."""
    now = now or timezone.now()
    sessions = Investigation.objects.filter(instrument=instrument, start_date__lte=now)
    return (
        sessions.filter(end_date__gte=now).order_by("-start_date").first() or sessions.order_by("-start_date").first()
    )


def _with_content(parcels: QuerySet[Parcel]) -> QuerySet[Parcel]:
    """Each with its statuses (and their people) and items: three queries for any number."""
    return parcels.select_related(
        "shipment__investigation", "shipment__shipping_address", "shipment__return_address"
    ).prefetch_related(
        Prefetch("statuses", queryset=ParcelStatus.objects.select_related("created_by").order_by("created", "id")),
        Prefetch("items", queryset=Item.objects.order_by("position", "name", "id")),
    )


def session_parcels(investigation: Investigation) -> QuerySet[Parcel]:
    """A session's parcels (the caller has checked that the actor sees the session)."""
    return _with_content(Parcel.objects.filter(shipment__investigation=investigation)).order_by(
        "shipment_id", "name", "id"
    )


def parcel_with_content(actor: Actor, pk: int) -> Parcel:
    parcel = _with_content(parcel_list(actor)).filter(pk=pk).first()
    if parcel is None:
        raise Http404("No parcel found.")
    return parcel


# --- Statistics ----------------------------------------------------------------------------------


def parcel_statistics(actor: Actor, start: datetime, end: datetime) -> dict:
    """Parcels created in [start, end) that the actor sees: per status, per instrument, per month
    (and status). Three GROUP BY queries."""
    parcels = parcel_list(actor).filter(created__gte=start, created__lt=end).order_by()
    per_status = dict(parcels.values_list("status").annotate(n=Count("id")))
    per_instrument = dict(
        parcels.values_list("shipment__investigation__instrument__name").annotate(n=Count("id")).order_by()
    )
    months = defaultdict(dict)
    rows = parcels.annotate(month=TruncMonth("created")).values_list("month", "status").annotate(n=Count("id"))
    for month, status, count in rows:
        months[month.strftime("%Y-%m")][status] = count
    return {
        "statuses": [(status, per_status.get(status.value, 0)) for status in Status],
        "instruments": sorted(per_instrument.items()),
        "months": sorted(months.items()),
        "total": sum(per_status.values()),
    }
