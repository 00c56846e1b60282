"""The logbook's portal pages: an investigation's logbook and a beamline's (timeline, filters, search,
keyset pages, live updates by htmx polling, comments), a search across every logbook the user reads, an
event's edit and history, removal and restore, and attachments served after their access and real-path
checks. The timelines' events are rendered by Jinja2 (logbook.timeline)."""

import os

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from catalogue.access import actor_for
from catalogue.models import BIGINT_MAX

from . import selectors, services, timeline
from .access import can_write_investigation_logbook
from .forms import CommentForm, EditForm, EventFilterForm
from .models import Event

INLINE_TYPES = set(services.IMAGE_TYPES.values())


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) <= BIGINT_MAX else None


def _logbook_page(request, *, events, tags, writable: bool, write, context: dict):
    """The timeline page shared by both logbooks; POST writes a comment through `write`."""
    form = CommentForm()
    if request.method == "POST":
        if not writable:
            raise PermissionDenied("You may read this logbook, not write to it.")
        form = CommentForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            attachment = None
            if upload is not None:
                if upload.size > services.max_attachment_bytes():
                    form.add_error("file", f"Larger than the limit of {services.max_attachment_bytes() // 2**20} MB.")
                else:
                    attachment = services.AttachmentFile(
                        data=upload.read(), content_type=upload.content_type or "", name=upload.name
                    )
            if form.is_valid():
                try:
                    write(
                        title=form.cleaned_data["title"],
                        text=form.cleaned_data["text"],
                        tags=form.cleaned_data["tags"],
                        attachment=attachment,
                    )
                except services.LogbookInvalid as exc:
                    for field, reason in exc.errors.items():
                        form.add_error(field if field in form.fields else None, reason)
                else:
                    return redirect(request.path)
    filter_form = EventFilterForm(request.GET or None, tags=tags)
    filters = filter_form.filters()
    after = _cursor(request, "after")
    if after is not None and request.htmx:  # the live poll: what is newer than the newest shown
        new, _ = selectors.portal_page(events(filters).filter(pk__gt=after), None)
        newest = new[0].pk if new else after
        return render(
            request,
            "logbook/_live.html",
            {**context, "timeline": timeline.events_html(new, request.user, headings=False), "newest": newest},
        )
    page, before = selectors.portal_page(events(filters), _cursor(request, "before"))
    query = request.GET.copy()
    query.pop("before", None)
    first_page = "before" not in request.GET
    newest = page[0].pk if page else 0
    live = first_page and not filter_form.active
    return render(
        request,
        "logbook/logbook.html",
        {
            **context,
            "events": page,
            "timeline": timeline.events_html(page, request.user, poll_url=request.path if live else "", newest=newest),
            "before": before,
            "query": query.urlencode(),
            "first_page": first_page,
            "live": live,
            "newest": newest,
            "filter_form": filter_form,
            "form": form,
            "writable": writable,
        },
        status=400 if request.method == "POST" else 200,
    )


def _writable(actor, investigation) -> bool:
    """Whoever reads an experiment's logbook writes to it, unless LOGBOOK_PUBLIC_AFTER_RELEASE lets
    more people read it (logbook.access): then it is asked."""
    return not settings.LOGBOOK_PUBLIC_AFTER_RELEASE or can_write_investigation_logbook(actor, investigation)


@login_required
def investigation_logbook(request, pk: int):
    actor = actor_for(request)
    investigation = selectors.investigation_logbook_get(actor, pk)

    def write(**fields):
        services.event_create(
            investigation=investigation, type=Event.Type.ANNOTATION, category=Event.Category.COMMENT,
            author=request.user, **fields,
        )  # fmt: skip

    return _logbook_page(
        request,
        events=lambda filters: selectors.investigation_events(investigation, filters),
        tags=selectors.tag_list(investigation=investigation),
        writable=_writable(actor, investigation),
        write=write,
        context={"investigation": investigation, "title": f"{investigation.name} · {investigation.visit_id}"},
    )


@login_required
def beamline_logbook(request, name: str):
    actor = actor_for(request)
    instrument = selectors.beamline_logbook_get(actor, name)

    def write(**fields):
        services.event_create(
            instrument=instrument, type=Event.Type.ANNOTATION, category=Event.Category.COMMENT,
            author=request.user, **fields,
        )  # fmt: skip

    return _logbook_page(
        request,
        events=lambda filters: selectors.beamline_events(instrument, filters),
        tags=selectors.tag_list(instrument=instrument),
        writable=True,  # who reads a beamline logbook writes to it (logbook.access.beamline_q)
        write=write,
        context={"instrument": instrument, "title": f"{instrument.name} beamline"},
    )


def broadcasts(request):
    """The facility's latest broadcasts, for everyone (the home page loads them)."""
    return render(request, "logbook/_broadcasts.html", {"broadcasts": selectors.broadcast_list(3)})


@login_required
@require_GET
def search(request):
    """A full-text search across every logbook the user reads (broadcasts included), newest first, by
    keyset pages (`before` an id); each hit links to its place in its logbook."""
    q = request.GET.get("q", "").strip()[: selectors.MAX_QUERY].replace("\x00", "")
    hits, before = [], None
    if q:
        hits, before = selectors.portal_page(
            selectors.event_search(actor_for(request), q), _cursor(request, "before"), files=False
        )
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "logbook/search.html",
        {
            "q": q,
            "hits": timeline.hits_html(hits) if hits else "",
            "count": len(hits),
            "before": before,
            "query": query.urlencode(),
            "first_page": "before" not in request.GET,
        },
    )


def _event(request, pk: int) -> Event:
    if pk > BIGINT_MAX:
        raise Http404("No event found.")
    return selectors.event_get(actor_for(request), pk)


@login_required
def event_edit(request, pk: int):
    event = _event(request, pk)
    if event.type != Event.Type.ANNOTATION or event.author_id != request.user.pk:
        raise PermissionDenied("Only its author edits an annotation; machine events are never edited.")
    if not event.is_latest:
        return redirect("logbook:event-history", pk=event.pk)
    form = EditForm(request.POST or None, initial={"title": event.title, "text": event.text})
    if request.method == "POST" and form.is_valid():
        try:
            services.event_edit(event=event, user=request.user, **form.cleaned_data)
        except services.EventNotEditable as exc:
            form.add_error(None, str(exc))
        except services.LogbookInvalid as exc:
            for field, reason in exc.errors.items():
                form.add_error(field if field in form.fields else None, reason)
        else:
            return redirect(timeline.logbook_url(event))
    return render(
        request, "logbook/event_edit.html", {"event": event, "form": form, "back": timeline.logbook_url(event)},
        status=400 if request.method == "POST" else 200,
    )  # fmt: skip


@login_required
def event_history(request, pk: int):
    event = _event(request, pk)
    versions = list(selectors.event_history(event))
    latest = versions[-1]
    return render(
        request,
        "logbook/event_history.html",
        {
            "event": event,
            "versions": versions,
            "latest": latest,
            "mine": latest.type == Event.Type.ANNOTATION and latest.author_id == request.user.pk,
            "back": timeline.logbook_url(event),
        },
    )


def _change(request, pk: int, change):
    event = _event(request, pk)
    if event.type != Event.Type.ANNOTATION or event.author_id != request.user.pk:
        raise PermissionDenied("Only its author removes or restores an annotation.")
    try:
        version = change(event=event, user=request.user)
    except services.EventNotEditable as exc:
        raise PermissionDenied(str(exc)) from None
    return redirect("logbook:event-history", pk=version.pk)


@login_required
@require_POST
def event_remove(request, pk: int):
    return _change(request, pk, services.event_remove)


@login_required
@require_POST
def event_restore(request, pk: int):
    return _change(request, pk, services.event_restore)


def _serve(request, pk: int, thumbnail: bool):
    if pk > BIGINT_MAX:
        raise Http404("No attachment found.")
    attachment = selectors.attachment_get(actor_for(request), pk)
    name = attachment.thumbnail_name if thumbnail else attachment.stored_name
    if not name:
        raise Http404("No attachment found.")
    root = os.path.realpath(settings.LOGBOOK_ATTACHMENT_ROOT)
    path = os.path.realpath(os.path.join(root, name))
    if not path.startswith(root + os.sep) or not os.path.isfile(path):
        raise Http404("No attachment found.")
    inline = thumbnail or attachment.content_type in INLINE_TYPES
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 (FileResponse closes it)
        content_type="image/png" if thumbnail else attachment.content_type,
        as_attachment=not inline,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def attachment(request, pk: int):
    return _serve(request, pk, thumbnail=False)


@login_required
def attachment_thumbnail(request, pk: int):
    return _serve(request, pk, thumbnail=True)
