"""The portal's timelines, rendered by Jinja2 (templates/jinja2/logbook/_events.html, and the search's
templates/jinja2/logbook/_hits.html) from values worked out here once per event: its local time and
day heading (Django's |date builds a formatter per call), its author's name (once per author), its
category's label and its text's lines. In Django's template language (an {% include %}, three |date
and up to four {% url %} an event) they were about 60 % of the page's time; see docs/benchmarks.md."""

from django.template.defaultfilters import linebreaksbr
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.html import format_html, strip_tags
from django.utils.safestring import SafeString, mark_safe

from catalogue.routes import pk_url

from .models import Event

CATEGORY_LABELS = {value: str(label) for value, label in Event.Category.choices}
SNIPPET = 300  # characters of a search hit's text


def _day(local) -> str:
    """'Tuesday 3 November 2026', as |date:"l j F Y" writes it (names translated)."""
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month]} {local.year}"


def present(events: list[Event], *, snippets: bool = False) -> list[Event]:
    """Sets what the templates show of each event: day (its day's heading, on the first event of a
    day only), clock, iso, who, category_label and text_html (or snippet, for search hits). The
    events come with their author (select_related) and tag_pairs (selectors.with_tag_pairs)."""
    names: dict[int, str] = {}
    last = None
    for event in events:
        local = timezone.localtime(event.creation_date)
        date = local.date()
        event.day = _day(local) if date != last else ""
        last = date
        event.clock = f"{local:%H:%M:%S}"
        event.iso = local.isoformat()
        if event.author_id:
            if event.author_id not in names:
                names[event.author_id] = event.author.get_full_name() or event.author.username
            event.who = names[event.author_id]
        else:
            event.who = event.machine or "machine"
        event.category_label = CATEGORY_LABELS.get(event.category, event.category)
        if snippets:
            text = (event.text or strip_tags(event.html)).strip()
            event.snippet = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
        elif event.text and event.category != Event.Category.COMMAND_LINE:
            event.text_html = linebreaksbr(event.text, autoescape=True)
    return events


def events_html(events: list[Event], user, *, headings: bool = True, poll_url: str = "", newest: int = 0) -> SafeString:
    """The timeline's events: with a heading for each day (headings), and the live poller (poll_url)
    after the first heading, as the first page shows them."""
    poller = (
        format_html(
            '<div id="logbook-live" hx-get="{}?after={}" hx-trigger="every 5s" hx-swap="outerHTML"></div>',
            poll_url,
            newest,
        )
        if poll_url
        else ""
    )
    template = get_template("logbook/_events.html", using="jinja2")
    values = {"events": present(events), "user_id": user.pk, "headings": headings, "poller": poller}
    return mark_safe(template.render(values))  # Jinja2 has escaped every value


def logbook_url(event: Event) -> str:
    """The address of the event's logbook (the home page for a broadcast)."""
    if event.investigation_id:
        return pk_url("logbook:investigation", event.investigation_id)
    if event.instrument_id:
        return reverse("logbook:beamline", args=[event.instrument.name])
    return reverse("home")


def hits_html(events: list[Event]) -> SafeString:
    """A search's hits, each linking to its place in its logbook (the page that starts with it)."""
    for event in present(events, snippets=True):
        event.url = logbook_url(event)
        in_logbook = event.investigation_id or event.instrument_id
        event.place = f"{event.url}?before={event.pk + 1}#event-{event.pk}" if in_logbook else event.url
        if event.investigation_id:
            event.logbook = f"{event.investigation.name} · {event.investigation.visit_id}"
        elif event.instrument_id:
            event.logbook = f"{event.instrument.name} beamline"
        else:
            event.logbook = "Broadcast"
    template = get_template("logbook/_hits.html", using="jinja2")
    return mark_safe(template.render({"events": events}))
