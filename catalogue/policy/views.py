"""The data policy's page: staff move an investigation's release date, with the reason and the history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from catalogue import selectors
from catalogue.access import actor_for, can_change_release_date

from .forms import ReleaseDateForm
from .services import investigation_release_date_change


@login_required
def investigation_release_date(request, pk: int):
    actor = actor_for(request)
    if not can_change_release_date(actor):
        raise Http404("No investigation found.")
    investigation = selectors.investigation_get(actor, pk)
    form = ReleaseDateForm(request.POST or None, initial={"release_date": investigation.release_date})
    if form.is_valid():
        investigation_release_date_change(
            investigation=investigation,
            release_date=form.cleaned_data["release_date"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        messages.success(request, "Release date changed; the change is in the audit log.")
        return redirect(investigation)
    return render(
        request,
        "catalogue/release_date_form.html",
        {
            "investigation": investigation,
            "form": form,
            "history": selectors.release_date_history(investigation),
        },
    )
