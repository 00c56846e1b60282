"""The beamline pages: a month of an instrument's sessions, and its iCalendar feed."""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from catalogue import selectors
from catalogue.access import Actor, actor_for

from . import beamline


def _beamline_get(actor: Actor, name: str):
    if "\x00" in name:  # not a name, and PostgreSQL cannot compare it
        raise Http404("No beamline found.")
    return selectors.beamline_get(actor, name)


@login_required
def beamline_detail(request, name: str):
    actor = actor_for(request)
    instrument = _beamline_get(actor, name)
    year, month = beamline.parse_month(request.GET.get("month"))
    feed_url = reverse("beamline-calendar", args=[name]) + "?token=" + beamline.feed_token(request.user, instrument)
    context = beamline.schedule(selectors.beamline_sessions(actor, instrument), year, month)
    return render(
        request,
        "catalogue/beamline_detail.html",
        context | {"instrument": instrument, "feed_url": request.build_absolute_uri(feed_url)},
    )


def beamline_calendar(request, name: str):
    """The iCalendar feed: for a signed-in person, or a calendar app holding a signed subscription URL."""
    token = request.GET.get("token")
    if token is None:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        actor = actor_for(request)
    else:
        signed = beamline.feed_token_load(token)
        user = get_user_model().objects.filter(pk=signed[0], is_active=True).first() if signed else None
        actor = Actor(user=user)
    instrument = _beamline_get(actor, name)
    if token is not None and instrument.pk != signed[1]:
        raise Http404("No beamline found.")
    feed = beamline.ical_feed(
        instrument,
        selectors.beamline_sessions(actor, instrument),
        host=request.get_host().split(":")[0],
        url_for=lambda investigation: request.build_absolute_uri(investigation.get_absolute_url()),
    )
    response = HttpResponse(feed, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{instrument.name}.ics"'
    return response
