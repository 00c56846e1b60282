"""Reads of the logbook, filtered by logbook.access in SQL: the logbooks an actor opens, their timelines
(current versions, newest first, by keyset: `before` an id, never an OFFSET), an event's history, tags,
attachments, broadcasts, and the running investigation an instrument's key writes to."""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Prefetch, Q, QuerySet, Value
from django.db.models.functions import Lower, Replace
from django.http import Http404
from django.utils import timezone

from catalogue.access import Actor
from catalogue.models import Instrument, Investigation

from .access import beamline_q, event_read_q, logbook_read_q
from .models import Attachment, Event, Tag
from .search import text_search

EVENTS_PER_PAGE = 50
MAX_QUERY = 200  # characters of a search
MISSING_LOGBOOK = "No logbook found."


def investigation_logbook_get(actor: Actor, pk: int) -> Investigation:
    """The investigation, if the actor reads its logbook; else 404 as for a missing one."""
    investigation = Investigation.objects.filter(logbook_read_q(actor), pk=pk).select_related("instrument").first()
    if investigation is None:
        raise Http404(MISSING_LOGBOOK)
    return investigation


def beamline_logbook_get(actor: Actor, name: str) -> Instrument:
    instrument = Instrument.objects.filter(beamline_q(actor), name=name).first()
    if instrument is None:
        raise Http404(MISSING_LOGBOOK)
    return instrument


def event_get(actor: Actor, pk: int) -> Event:
    """Any version of an event the actor reads."""
    event = (
        Event.objects.filter(event_read_q(actor), pk=pk)
        .select_related("author", "investigation", "instrument")
        .prefetch_related("tags", "attachments")
        .first()
    )
    if event is None:
        raise Http404("No event found.")
    return event


def event_history(event: Event) -> QuerySet[Event]:
    """Every version of the event, the first first."""
    root = event.root_id
    return (
        Event.objects.filter(Q(pk=root) | Q(original_id=root))
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("id")
    )


def attachment_get(actor: Actor, pk: int) -> Attachment:
    attachment = Attachment.objects.filter(pk=pk, event__in=Event.objects.filter(event_read_q(actor))).first()
    if attachment is None:
        raise Http404("No attachment found.")
    return attachment


@dataclass(frozen=True)
class EventFilters:
    """A timeline's filters (logbook.forms.EventFilterForm's cleaned data)."""

    type: str = ""
    category: str = ""
    tag: Tag | None = None
    author: str = ""
    since: date | None = None
    until: date | None = None
    dataset: str = ""
    q: str = ""


def _timeline(events: QuerySet[Event], filters: EventFilters | None) -> QuerySet[Event]:
    f = filters or EventFilters()
    events = events.filter(is_latest=True, removed=False)
    if f.type:
        events = events.filter(type=f.type)
    if f.category:
        events = events.filter(category=f.category)
    if f.tag is not None:
        events = events.filter(tags=f.tag)
    if f.author:
        events = events.filter(Q(author__username=f.author) | Q(machine=f.author))
    if f.since:
        events = events.filter(creation_date__gte=timezone.make_aware(datetime.combine(f.since, time.min)))
    if f.until:
        events = events.filter(creation_date__lt=timezone.make_aware(datetime.combine(f.until, time.max)))
    if f.dataset:
        events = events.filter(dataset__name=f.dataset)
    if f.q:
        events = text_search(events, f.q)
    return events.select_related("author", "dataset").prefetch_related(
        "tags", Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )


def investigation_events(investigation: Investigation, filters: EventFilters | None = None) -> QuerySet[Event]:
    return _timeline(Event.objects.filter(investigation=investigation), filters)


def beamline_events(instrument: Instrument, filters: EventFilters | None = None) -> QuerySet[Event]:
    return _timeline(Event.objects.filter(instrument=instrument, investigation=None), filters)


def readable_events(actor: Actor, filters: EventFilters | None = None) -> QuerySet[Event]:
    """The current events of every logbook the actor reads, broadcasts included: a search across them."""
    return _timeline(Event.objects.filter(event_read_q(actor)), filters)


def event_search(actor: Actor, q: str = "") -> QuerySet[Event]:
    """readable_events matching q (every one without q), with their logbooks: the search page's and the
    API's search across logbooks."""
    return readable_events(actor, EventFilters(q=q)).select_related("investigation__instrument", "instrument")


def broadcast_list(limit: int = 5) -> list[Event]:
    return list(
        Event.objects.filter(type=Event.Type.BROADCAST, is_latest=True, removed=False, investigation=None)
        .filter(instrument=None)
        .order_by("-id")[:limit]
    )


def page(
    events: QuerySet[Event], before: int | None, per_page: int = EVENTS_PER_PAGE
) -> tuple[list[Event], int | None]:
    """One page of a timeline by keyset: the events older than `before` (an id); and the next cursor."""
    if before is not None:
        events = events.filter(pk__lt=before)
    rows = list(events.order_by("-id")[: per_page + 1])
    return rows[:per_page], (rows[per_page - 1].pk if len(rows) > per_page else None)


def portal_page(
    events: QuerySet[Event], before: int | None, per_page: int = EVENTS_PER_PAGE, *, files: bool = True
) -> tuple[list[Event], int | None]:
    """page(), for the portal's timelines: with each event's tags as (name, colour) pairs in
    event.tag_pairs (with_tag_pairs), its attachments in event.files (files: one query for the page, no
    manager per event as event.attachments.all() builds), and without the datasets' parameters (a page
    shows their names)."""
    rows, cursor = page(events.prefetch_related(None).defer(*DATASET_UNSHOWN), before, per_page)
    if files:
        by_event: dict[int, list[Attachment]] = {event.pk: [] for event in rows}
        if rows:
            for attachment in Attachment.objects.filter(event_id__in=by_event).order_by("id"):
                by_event[attachment.event_id].append(attachment)
        for event in rows:
            event.files = by_event[event.pk]
    return with_tag_pairs(rows), cursor


DATASET_UNSHOWN = ("dataset__parameters", "dataset__warnings", "dataset__description")


def with_tag_pairs(events: list[Event]) -> list[Event]:
    """Sets event.tag_pairs, its tags' [(name, colour)] in Tag's order, in one query of the links and
    their tags' names (no Tag objects, no manager per event as event.tags.all() builds)."""
    pairs: dict[int, list[tuple[str, str]]] = {event.pk: [] for event in events}
    if events:
        links = (
            Event.tags.through.objects.filter(event_id__in=pairs)
            .order_by("tag__name", "tag_id")
            .values_list("event_id", "tag__name", "tag__color")
        )
        for event_id, name, color in links:
            pairs[event_id].append((name, color))
    for event in events:
        event.tag_pairs = pairs[event.pk]
    return events


def tag_list(*, investigation: Investigation | None = None, instrument: Instrument | None = None) -> QuerySet[Tag]:
    """The tags a logbook may use: its own and the global ones."""
    own = Q(investigation=investigation) if investigation else Q(instrument=instrument, investigation=None)
    return Tag.objects.filter(own | Q(investigation=None, instrument=None))


def running_investigation(instrument: Instrument, name: str = "") -> Investigation | None:
    """The instrument's investigation a key writes to: the one running now (of that proposal, if named;
    ESRF's "mx2485" names "MX-2485"), else the last one started."""
    investigations = Investigation.objects.filter(instrument=instrument)
    if name:
        normal = name.replace("-", "").lower()
        investigations = investigations.annotate(normal=Lower(Replace("name", Value("-"), Value("")))).filter(
            normal=normal
        )
    now = timezone.now()
    running = investigations.filter(start_date__lte=now, end_date__gte=now).order_by("-start_date", "-id").first()
    return running or investigations.filter(start_date__lte=now).order_by("-start_date", "-id").first()
