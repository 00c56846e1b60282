"""The portal's storage routes: restore requests (a dataset, an investigation, the selection), a
dataset's storage cell (polled while it is restored), "My requests", and the staff's archive action.
The download and selection pages are in catalogue/storage/pages.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from catalogue import selectors
from catalogue.access import Actor, actor_for, can_archive
from catalogue.models import BIGINT_MAX, Dataset

from . import selectors as storage_selectors
from .selection import selection_datasets
from .services import datasets_archive_request, restore_request

REQUESTS_PER_PAGE = 25
MAX_DATASETS = 10_000


def _ids(values: list[str], field: str) -> list[int]:
    if not all(value.strip().isdigit() and len(value.strip()) <= 19 for value in values):
        raise ValueError(f"{field}: not an id (a whole number)")
    ids = [int(value) for value in values]
    if not all(0 < pk <= BIGINT_MAX for pk in ids):
        raise ValueError(f"{field}: not an id")
    return ids


def restore_targets(actor: Actor, data):
    """The datasets a restore form names (dataset ids, an investigation, or selection=1), among those
    the actor may read, and what to call them. ValueError names a bad field."""
    if data.get("selection"):
        return selection_datasets(actor), "your selection"
    datasets = selectors.readable_datasets(actor)
    if data.get("investigation"):
        (pk,) = _ids([data["investigation"]], "investigation")
        return datasets.filter(investigation_id=pk), "the investigation"
    ids = _ids(data.getlist("dataset"), "dataset")
    if not ids:
        raise ValueError("dataset: name at least one dataset, an investigation or the selection")
    if len(ids) > MAX_DATASETS:
        raise ValueError(f"dataset: at most {MAX_DATASETS:,} datasets at once")
    return datasets.filter(pk__in=ids), "the dataset" if len(ids) == 1 else "the datasets"


def _storage_cell(request, dataset: Dataset) -> HttpResponse:
    cell = get_template("catalogue/_storage_state.html", using="jinja2")
    job = storage_selectors.open_restore_job(dataset)
    return HttpResponse(cell.render({"dataset": dataset, "job": job, "user": request.user}, request=request))


@require_POST
@login_required
def storage_restore(request):
    """Restore what the form names; htmx's request for one dataset gets its storage cell back, a
    form goes back where it came from (or to "My requests") with what was done."""
    actor = actor_for(request)
    try:
        datasets, what = restore_targets(actor, request.POST)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    summary = restore_request(user=request.user, datasets=datasets)
    if request.headers.get("HX-Request") and len(request.POST.getlist("dataset")) == 1:
        return _storage_cell(request, selectors.dataset_get(actor, int(request.POST["dataset"])))
    if summary.queued or summary.joined or summary.online:
        messages.success(request, summary.message)
    else:
        messages.warning(request, f"Nothing to restore in {what}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "my-requests"
    return redirect(target)


@require_safe
def dataset_storage(request, pk: int):
    """A dataset's storage cell (the table's and the page's), polled while it is restored."""
    return _storage_cell(request, selectors.dataset_get(actor_for(request), pk))


@require_safe
@login_required
def my_requests(request):
    """The person's restore requests, newest first, with each job's progress."""
    requests = storage_selectors.restore_requests_of(request.user)
    page = Paginator(requests, REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "catalogue/my_requests.html", {"page_obj": page})


@require_POST
@login_required
def dataset_archive(request, pk: int):
    """Staff: archive the dataset now (the worker copies, verifies, then frees the disk)."""
    actor = actor_for(request)
    dataset = selectors.dataset_get(actor, pk)
    if not can_archive(actor, dataset.investigation.instrument_id):
        return HttpResponse("Only the instrument's scientists and admins archive data.", status=403)
    reason = request.POST.get("reason", "").strip()[:400]
    if not reason:
        messages.error(request, "Say why the dataset is archived now (reason).")
    elif datasets_archive_request(dataset_ids=[dataset.pk], reason=reason, actor=request.user):
        messages.success(request, "The dataset is being archived; its files leave the disk once the copy is verified.")
    else:
        messages.warning(request, "Only complete datasets on disk can be archived.")
    return redirect(dataset)
