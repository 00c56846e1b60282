"""Portal pages. Thin: selectors (already access-filtered) -> FilterSet -> Paginator -> template."""

from functools import partial

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import replace_url

from catalogue import selectors
from catalogue.access import actor_for, can_archive, is_beamline_staff
from catalogue.filtersets import DatafileFilterSet, DatasetFilterSet, DatasetTableFilterSet, InvestigationFilterSet
from catalogue.locations import PathRefused, open_dataset_file
from catalogue.models import Investigation
from catalogue.pagination import CappedPaginator, DeferredJoinPaginator, KnownCountPaginator
from catalogue.storage import selectors as storage_selectors

from .pages import (
    dataset_page,
    dataset_summary,
    facet_sidebar,
    investigation_members,
    is_gallery_file,
    parameter_rows,
    row_thumbnails,
    search_choices,
    table_columns,
)

INVESTIGATIONS_PER_PAGE = 25
DATASETS_PER_PAGE = 50
FILES_PER_PAGE = 50
ROWS_PER_PAGE = 50


def _page(request, queryset, per_page, paginator=Paginator, **options):
    return paginator(queryset, per_page, **options).get_page(request.GET.get("page"))


def _unfiltered(filterset) -> bool:
    return filterset.is_valid() and not any(filterset.form.cleaned_data.values())


def home(request):
    actor = actor_for(request)
    if actor.is_person:
        title, investigations = "My data", selectors.my_investigation_list(actor)
    else:
        title, investigations = "Open data", selectors.open_investigation_list(actor)
    return render(
        request,
        "catalogue/home.html",
        {"title": title, "page_obj": _page(request, investigations, INVESTIGATIONS_PER_PAGE)},
    )


INVESTIGATION_SECTIONS = {
    "all": ("All I can see", selectors.investigation_list),
    "mine": ("My data", selectors.my_investigation_list),
    "open": ("Open data", selectors.open_investigation_list),
}


def investigation_list(request):
    actor = actor_for(request)
    section = request.GET.get("section")
    if section not in INVESTIGATION_SECTIONS or (section == "mine" and not actor.is_person):
        section = "all"
    filterset = InvestigationFilterSet(request.GET, queryset=INVESTIGATION_SECTIONS[section][1](actor))
    return render(
        request,
        "catalogue/investigation_list.html",
        {
            "filterset": filterset,
            "page_obj": _page(request, filterset.qs, INVESTIGATIONS_PER_PAGE),
            "section": section,
            "sections": [
                (key, label) for key, (label, _) in INVESTIGATION_SECTIONS.items() if key != "mine" or actor.is_person
            ],
        },
    )


def _is_live(investigation: Investigation) -> bool:
    return investigation.start_date <= timezone.now() <= investigation.end_date


def _dataset_table(request, investigation: Investigation) -> dict:
    datasets = selectors.investigation_dataset_list(investigation)
    filterset = DatasetTableFilterSet(request.GET, queryset=datasets, investigation=investigation)
    # Unfiltered, the table holds every dataset of the investigation: its tallies have counted them.
    count = investigation.dataset_count if _unfiltered(filterset) else None
    rows = partial(selectors.dataset_table_rows, actor_for(request))
    page_obj = _page(request, filterset.qs, DATASETS_PER_PAGE, DeferredJoinPaginator, count=count, rows=rows)
    return {
        "investigation": investigation,
        "filterset": filterset,
        "page_obj": page_obj,
        "columns": table_columns(page_obj),
        "live": _is_live(investigation),
    }


INVESTIGATION_TABS = ("datasets", "samples", "participants")


def investigation_detail(request, pk: int):
    investigation = selectors.investigation_get(actor_for(request), pk)
    tab = request.GET.get("tab")
    if tab not in INVESTIGATION_TABS:
        tab = "datasets"
    context = {"investigation": investigation, "tab": tab, "live": _is_live(investigation)}
    if tab == "datasets":
        context |= _dataset_table(request, investigation)
    elif tab == "samples":
        samples = selectors.sample_list(actor_for(request)).filter(investigation=investigation)
        context["page_obj"] = _page(request, samples, ROWS_PER_PAGE)
    else:
        context["page_obj"] = _page(request, investigation_members(investigation), ROWS_PER_PAGE)
    return render(request, "catalogue/investigation_detail.html", context)


def investigation_datasets(request, pk: int):
    """The dataset table alone: htmx filters, pagination and the live refresh swap it in place."""
    investigation = selectors.investigation_get(actor_for(request), pk)
    context = _dataset_table(request, investigation) | {"user": request.user}
    response = render(request, "catalogue/_investigation_datasets.html", context, using="jinja2")
    if request.htmx:
        # Keep the address bar on the page, with the filters, so a reload shows the same table.
        query = request.GET.urlencode()
        return replace_url(response, reverse("investigation-detail", args=[pk]) + (f"?{query}" if query else ""))
    return response


def dataset_detail(request, pk: int):
    actor = actor_for(request)
    dataset = selectors.dataset_get(actor, pk)
    inputs, outputs = selectors.dataset_related(actor, dataset)
    files = DatafileFilterSet(
        request.GET, queryset=selectors.datafile_list(actor).filter(dataset=dataset).order_by("path")
    )
    return render(
        request,
        "catalogue/dataset_detail.html",
        {
            "dataset": dataset,
            "restore_job": storage_selectors.open_restore_job(dataset),
            "storage_history": storage_selectors.storage_history(dataset),
            "may_archive": can_archive(actor, dataset.investigation.instrument_id),
            "view": dataset_page(dataset),
            "inputs": inputs,
            "outputs": outputs,
            "files": files,
            # Unfiltered: all the dataset's files, which its registration has counted.
            "page_obj": _page(
                request,
                files.qs,
                FILES_PER_PAGE,
                KnownCountPaginator,
                count=dataset.file_count if _unfiltered(files) else None,
            ),
        },
    )


def dataset_image(request, pk: int, file_pk: int):
    """A gallery image or plot of a dataset, as its definition names them; other files are not served here."""
    actor = actor_for(request)
    dataset = selectors.dataset_get(actor, pk)
    datafile = selectors.datafile_list(actor).filter(dataset=dataset, pk=file_pk).first()
    if datafile is None or not is_gallery_file(dataset, datafile.path):
        raise Http404("No such image.")
    try:
        return FileResponse(open_dataset_file(dataset, datafile.path))
    except (OSError, PathRefused):
        raise Http404("The image is not on disk.") from None


def dataset_list(request):
    """Dataset search: any parameter of the vocabulary, a value or a range in any compatible unit."""
    actor = actor_for(request)
    filterset = DatasetFilterSet(request.GET or None, queryset=selectors.dataset_table_list(actor))
    valid = not filterset.is_bound or filterset.is_valid()
    datasets = filterset.qs if valid else filterset.queryset.none()
    # The whole catalogue can match: count up to the cap only.
    page_obj = _page(request, datasets, DATASETS_PER_PAGE, CappedPaginator)
    choices = search_choices()
    facets, facets_skipped = [], False
    if valid:
        filters = filterset.form.cleaned_data if filterset.is_bound else None
        # Counting a broad search's matches per facet takes a second at a million datasets: without
        # tallies for its filters, the sidebar counts only searches that stay under the cap.
        if selectors.facets_are_tallied(filters) or not page_obj.paginator.capped:
            counts = selectors.dataset_facets(actor, filters, datasets)
            facets = facet_sidebar(request.GET, counts, {t.code: t.name for t in choices["techniques"]})
        else:
            facets_skipped = True
    return render(
        request,
        "catalogue/dataset_list.html",
        {
            "filterset": filterset,
            "page_obj": page_obj,
            "columns": table_columns(page_obj),
            "facets": facets,
            "facets_skipped": facets_skipped,
            **choices,
        },
    )


def dataset_row(request, pk: int):
    """The expanded row of the dataset table: key parameters, the first images of its gallery (one
    query, when its definition shows any) and related datasets."""
    actor = actor_for(request)
    dataset = selectors.dataset_get(actor, pk)
    inputs, outputs = selectors.dataset_related(actor, dataset)
    return render(
        request,
        "catalogue/_dataset_row.html",
        {
            "dataset": dataset,
            "summary": dataset_summary(dataset),
            "thumbnails": row_thumbnails(dataset),
            "inputs": inputs,
            "outputs": outputs,
        },
    )


def sample_detail(request, pk: int):
    actor = actor_for(request)
    sample = selectors.sample_get(actor, pk)
    datasets = selectors.dataset_table_list(actor).filter(sample=sample)
    return render(
        request,
        "catalogue/sample_detail.html",
        {
            "sample": sample,
            "parameters": parameter_rows(sample.parameters, sorted(sample.parameters)),
            "page_obj": _page(request, datasets, DATASETS_PER_PAGE),
        },
    )


def search(request):
    q = request.GET.get("q", "").strip()
    if "\x00" in q:  # PostgreSQL cannot compare text holding NUL
        return HttpResponseBadRequest("The search text must not contain NUL characters.")
    return render(request, "catalogue/search.html", {"q": q, "results": selectors.search(actor_for(request), q)})


# --- Staff views: anonymous visitors are asked to sign in; others not allowed get a 404 -----------


@login_required
def embargoed_list(request):
    actor = actor_for(request)
    if not is_beamline_staff(actor):
        raise Http404("No page found.")
    filterset = InvestigationFilterSet(request.GET, queryset=selectors.embargoed_investigation_list(actor))
    return render(
        request,
        "catalogue/embargoed_list.html",
        {
            "filterset": filterset,
            "page_obj": _page(request, filterset.qs, INVESTIGATIONS_PER_PAGE),
            "beamlines": selectors.beamline_list(actor),
        },
    )
