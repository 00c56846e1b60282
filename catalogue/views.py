"""Portal pages. Thin: selectors (already access-filtered) -> FilterSet -> Paginator -> template."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import replace_url

from . import selectors
from .access import actor_for
from .filtersets import DatafileFilterSet, DatasetTableFilterSet, InvestigationFilterSet
from .models import Investigation
from .portal import dataset_summary, grouped_parameters, investigation_members, parameter_rows

INVESTIGATIONS_PER_PAGE = 25
DATASETS_PER_PAGE = 50
FILES_PER_PAGE = 50
ROWS_PER_PAGE = 50


def _page(request, queryset, per_page):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


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
    filterset = DatasetTableFilterSet(
        request.GET,
        queryset=selectors.dataset_list(actor_for(request)).filter(investigation=investigation),
        investigation=investigation,
    )
    return {
        "investigation": investigation,
        "filterset": filterset,
        "page_obj": _page(request, filterset.qs, DATASETS_PER_PAGE),
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
    response = render(request, "catalogue/_investigation_datasets.html", _dataset_table(request, investigation))
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
            "parameter_groups": grouped_parameters(dataset.parameters),
            "inputs": inputs,
            "outputs": outputs,
            "files": files,
            "page_obj": _page(request, files.qs, FILES_PER_PAGE),
        },
    )


def dataset_row(request, pk: int):
    """The expanded row of the dataset table: key parameters and related datasets."""
    actor = actor_for(request)
    dataset = selectors.dataset_get(actor, pk)
    inputs, outputs = selectors.dataset_related(actor, dataset)
    return render(
        request,
        "catalogue/_dataset_row.html",
        {"dataset": dataset, "summary": dataset_summary(dataset), "inputs": inputs, "outputs": outputs},
    )


def sample_detail(request, pk: int):
    actor = actor_for(request)
    sample = selectors.sample_get(actor, pk)
    datasets = selectors.dataset_list(actor).filter(sample=sample)
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
    return render(request, "catalogue/search.html", {"q": q, "results": selectors.search(actor_for(request), q)})
