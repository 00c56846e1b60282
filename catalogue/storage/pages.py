"""The portal's routes of downloads as ZIP (a dataset, an investigation, the selection) and of the
selection (its page, add, remove, clear). Thin: the selectors (access in SQL) choose the datasets,
catalogue.storage.zips streams them, catalogue.storage.selection changes the selection. Datasets not
online answer 409 with a page offering their restore."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from catalogue import selectors
from catalogue.access import Actor, actor_for
from catalogue.models import Dataset, DownloadRecord
from catalogue.pagination import KnownCountPaginator

from . import selection as selection_services
from .downloads import NotOnline
from .zips import dataset_folder, zip_datasets, zip_stream_response

SELECTION_PER_PAGE = 50
MAX_IDS = 1000  # datasets one request may add or remove


def restore_url() -> str | None:
    """The restore route's address, or None while it does not exist."""
    try:
        return reverse("storage-restore")
    except NoReverseMatch:
        return None


def bulk_text(size: int) -> str:
    """settings.DOWNLOAD_BULK_TEXT when the bytes exceed settings.DOWNLOAD_BULK_THRESHOLD, else ""."""
    return settings.DOWNLOAD_BULK_TEXT if size > settings.DOWNLOAD_BULK_THRESHOLD else ""


def not_online_page(request, exc: NotOnline) -> HttpResponse:
    """409: which datasets are not on disk, with the Restore button for them."""
    actor = actor_for(request)
    offline = selectors.dataset_list(actor, portal=False).filter(pk__in=exc.datasets).order_by("pk")
    context = {"message": str(exc), "datasets": offline, "restore_url": restore_url()}
    return render(request, "catalogue/not_online.html", context, status=409)


def _zip(request, actor: Actor, datasets, *, filename: str, kind: str) -> HttpResponse:
    try:
        found = zip_datasets(datasets)
        if not found and kind == DownloadRecord.Kind.DATASET:
            raise Http404("No dataset found.")
        return zip_stream_response(request, actor, found, filename=filename, kind=kind)
    except NotOnline as exc:
        return not_online_page(request, exc)


@require_safe
def dataset_download(request, pk: int):
    """/datasets/<pk>/download/: the dataset as one ZIP (a hidden dataset answers like a missing one)."""
    actor = actor_for(request)
    datasets = selectors.dataset_list(actor, portal=False).filter(pk=pk)
    name = datasets.values_list("name", flat=True).first()
    if name is None:
        raise Http404("No dataset found.")
    return _zip(request, actor, datasets, filename=f"{dataset_folder(pk, name)}.zip", kind=DownloadRecord.Kind.DATASET)


@require_safe
def investigation_download(request, pk: int):
    """/investigations/<pk>/download/: all the investigation's datasets as one ZIP."""
    actor = actor_for(request)
    investigation = selectors.investigation_get(actor, pk)
    datasets = selectors.dataset_list(actor, portal=False).filter(investigation=investigation)
    filename = f"{dataset_folder(pk, f'{investigation.name}_{investigation.visit_id}')}.zip"
    return _zip(request, actor, datasets, filename=filename, kind=DownloadRecord.Kind.INVESTIGATION)


@login_required
@require_safe
def selection_download(request):
    """/selection/download/: the person's selection as one ZIP."""
    actor = actor_for(request)
    datasets = selection_services.selection_datasets(actor)
    return _zip(request, actor, datasets, filename="selection.zip", kind=DownloadRecord.Kind.SELECTION)


@login_required
@require_safe
def selection_page(request):
    """/selection/: the selection's datasets (50 a page), their total size, remove, clear, download
    as ZIP and restore."""
    actor = actor_for(request)
    totals = selection_services.selection_totals(actor)
    datasets = selection_services.selection_list(actor)
    page_obj = KnownCountPaginator(datasets, SELECTION_PER_PAGE, count=totals["datasets"]).get_page(
        request.GET.get("page")
    )
    selection_services.remember_count(request, totals["datasets"])
    return render(
        request,
        "catalogue/selection.html",
        {
            "page_obj": page_obj,
            "totals": totals,
            "bulk_text": bulk_text(totals["size"]),
            "restore_url": restore_url(),
        },
    )


def _dataset_ids(request) -> list[int] | HttpResponse:
    """The `dataset` fields of the form as ids, or a 400 naming the field."""
    values = request.POST.getlist("dataset")
    if len(values) > MAX_IDS:
        return HttpResponseBadRequest(f"dataset: at most {MAX_IDS} datasets at once.")
    try:
        ids = [int(value) for value in values]
    except ValueError:
        return HttpResponseBadRequest("dataset: each value must be a dataset id (an integer).")
    if not ids or any(pk < 1 or pk > 2**63 - 1 for pk in ids):
        return HttpResponseBadRequest("dataset: give one or more dataset ids.")
    return ids


def _back(request, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return HttpResponseRedirect(target if target and safe else fallback)


def _plural(count: int) -> str:
    return f"{count} dataset{'s' if count != 1 else ''}"


@login_required
@require_POST
def selection_add(request):
    """Add the `dataset` ids (those the person may read) to the selection. From htmx: the button's
    new state; otherwise back to `next`."""
    ids = _dataset_ids(request)
    if isinstance(ids, HttpResponse):
        return ids
    added = selection_services.selection_add(user=request.user, dataset_ids=ids)
    selection_services.remember_count(request)
    if request.headers.get("HX-Request"):
        return render(request, "catalogue/_selection_added.html", {"added": added, "asked": len(ids)})
    messages.success(request, f"Added {_plural(added)} to your selection." if added else "Already in your selection.")
    return _back(request, reverse("selection"))


@login_required
@require_POST
def selection_remove(request):
    ids = _dataset_ids(request)
    if isinstance(ids, HttpResponse):
        return ids
    removed = selection_services.selection_remove(user=request.user, dataset_ids=ids)
    selection_services.remember_count(request)
    messages.success(request, f"Removed {_plural(removed)} from your selection.")
    return _back(request, reverse("selection"))


@login_required
@require_POST
def selection_clear(request):
    removed = selection_services.selection_clear(user=request.user)
    selection_services.remember_count(request, 0)
    messages.success(request, f"Your selection is empty ({_plural(removed)} removed).")
    return _back(request, reverse("selection"))


def download_context(dataset_or_size) -> dict:
    """For a page's Download button: the bulk text above the threshold (dataset or bytes)."""
    size = dataset_or_size.size if isinstance(dataset_or_size, Dataset) else int(dataset_or_size or 0)
    return {"bulk_text": bulk_text(size)}
