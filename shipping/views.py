"""The portal's shipping pages: thin views over shipping.selectors and shipping.services.

Every page needs a signed-in person; a shipment or parcel the person may not see answers like a
missing one (404)."""

import csv
import json
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from catalogue import selectors as catalogue_selectors
from catalogue.access import Actor, actor_for, is_beamline_staff

from . import access, forms, labels, selectors, services
from .access import Role
from .models import Status


def _actor(request) -> Actor:
    return actor_for(request)


@login_required
def shipment_list(request):
    actor = _actor(request)
    shipments = selectors.shipment_list(actor).order_by("-created", "-id")[:200]
    return render(request, "shipping/shipment_list.html", {"shipments": shipments, "staff": access.is_logistics(actor)})


def _user_investigations(actor: Actor):
    """Where the person may start a shipment: the investigations they take part in."""
    return catalogue_selectors.my_investigation_list(actor).select_related(None).order_by("-start_date", "-id")


@login_required
def address_create(request):
    actor = _actor(request)
    form = forms.AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = services.address_create(actor=actor, **form.cleaned_data)
        messages.success(request, f"Address of {address.name} saved.")
        return redirect("shipping:shipment-create")
    return render(request, "shipping/form_page.html", {"form": form, "title": "New address", "submit": "Save address"})


@login_required
def shipment_create(request):
    actor = _actor(request)
    investigations = _user_investigations(actor)
    form = forms.ShipmentForm(
        request.POST or None,
        investigations=investigations,
        addresses=selectors.address_list(actor),
        initial={"investigation": request.GET.get("investigation")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            shipment = services.shipment_create(actor=actor, **form.cleaned_data)
        except services.ShippingError as exc:
            forms.add_errors(form, exc)
        else:
            return redirect("shipping:shipment-detail", pk=shipment.pk)
    context = {"form": form, "title": "New shipment", "submit": "Create shipment", "address_link": True}
    return render(request, "shipping/form_page.html", context, status=400 if form.errors else 200)


@login_required
def shipment_detail(request, pk: int):
    actor = _actor(request)
    shipment = selectors.shipment_get(actor, pk)
    held = access.roles(actor, shipment.investigation)
    form = forms.ParcelForm(request.POST or None)
    if request.method == "POST":
        if Role.USER not in held:
            raise Http404("No shipment found.")
        if form.is_valid():
            try:
                parcel = services.parcel_create(actor=actor, shipment=shipment, **form.cleaned_data)
            except services.ShippingError as exc:
                forms.add_errors(form, exc)
            else:
                return redirect(parcel)
    parcels = shipment.parcels.order_by("name", "id")
    context = {"shipment": shipment, "parcels": parcels, "form": form, "can_add": Role.USER in held}
    return render(request, "shipping/shipment_detail.html", context, status=400 if form.errors else 200)


def _parcel_page(request, parcel, *, item_form=None, status_form=None, sheet_form=None, status=200):
    actor = _actor(request)
    shipment = parcel.shipment
    held = access.roles(actor, shipment.investigation)
    editable = access.can_edit(parcel.status, held)
    plans = shipment.technique.plans if shipment.technique else {}
    parents = selectors.parcel_containers(parcel)
    context = {
        "parcel": parcel,
        "shipment": shipment,
        "items": selectors.parcel_items(actor, parcel),
        "history": selectors.parcel_history(parcel).select_related("created_by"),
        "next_statuses": [Status(s) for s in access.next_statuses(parcel.status, held)],
        "editable": editable,
        "item_form": item_form or forms.ItemForm(parents=parents, plans=plans),
        "status_form": status_form,
        "sheet_form": sheet_form or forms.SampleSheetForm(),
        "plan_labels": {kind: {e["key"]: e for e in entries} for kind, entries in plans.items()},
    }
    return render(request, "shipping/parcel_detail.html", context, status=status)


@login_required
def parcel_detail(request, pk: int):
    return _parcel_page(request, selectors.parcel_get(_actor(request), pk))


@login_required
def parcel_labels(request, pk: int):
    parcel = selectors.parcel_get(_actor(request), pk)
    response = HttpResponse(labels.parcel_labels(parcel), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="parcel-{parcel.barcode}-labels.pdf"'
    return response


@login_required
@require_POST
def parcel_status(request, pk: int):
    actor = _actor(request)
    parcel = selectors.parcel_get(actor, pk)
    form = forms.StatusForm(request.POST)
    if form.is_valid():
        try:
            row = services.parcel_status_change(actor=actor, parcel=parcel, **form.cleaned_data)
        except services.ShippingError as exc:
            forms.add_errors(form, exc)
        else:
            messages.success(request, f"Parcel {parcel.name}: {row.get_status_display().lower()}.")
            return redirect(request.POST.get("next") == "stores" and "shipping:stores" or parcel)
    return _parcel_page(request, parcel, status_form=form, status=403 if _refused(form) else 400)


def _refused(form) -> bool:
    return any("may set" in str(error) for error in form.errors.get("status", []))


@login_required
@require_POST
def item_create(request, pk: int):
    actor = _actor(request)
    parcel = selectors.parcel_get(actor, pk)
    plans = parcel.shipment.technique.plans if parcel.shipment.technique else {}
    form = forms.ItemForm(request.POST, parents=selectors.parcel_containers(parcel), plans=plans)
    if form.is_valid():
        experiment, processing = form.plans()
        if form.is_valid():  # plans() may add errors
            data = {k: v for k, v in form.cleaned_data.items() if k in forms.ItemForm.base_fields}
            try:
                item = services.item_create(
                    actor=actor, parcel=parcel, experiment_plan=experiment, processing_plan=processing, **data
                )
            except services.ShippingError as exc:
                if exc.status_code == 403:
                    raise Http404("No parcel found.") from exc
                forms.add_errors(form, exc)
            else:
                messages.success(request, f"{item.get_type_display()} {item.name} added.")
                return redirect(parcel)
    return _parcel_page(request, parcel, item_form=form, status=400)


@login_required
@require_POST
def item_delete(request, pk: int, item_pk: int):
    actor = _actor(request)
    parcel = selectors.parcel_get(actor, pk)
    item = parcel.items.filter(pk=item_pk).first()
    if item is None:
        raise Http404("No item found.")
    try:
        services.item_delete(actor=actor, item=item)
    except services.ShippingError as exc:
        raise Http404("No item found.") from exc
    messages.success(request, f"{item.name} removed.")
    return redirect(parcel)


@login_required
@require_POST
def samplesheet_import(request, pk: int):
    actor = _actor(request)
    parcel = selectors.parcel_get(actor, pk)
    form = forms.SampleSheetForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            sheet = services.samplesheet_import(
                actor=actor, parcel=parcel, name=form.cleaned_data["name"], text=form.cleaned_data["file"]
            )
        except services.ShippingError as exc:
            if exc.status_code == 403:
                raise Http404("No parcel found.") from exc
            for where, reason in exc.errors.items():
                form.add_error("file", f"{where}: {reason}")
        else:
            count = sheet.children.count()
            messages.success(request, f"Sample sheet {sheet.name} imported: {count} container{'s' * (count != 1)}.")
            return redirect(parcel)
    return _parcel_page(request, parcel, sheet_form=form, status=400)


def _require_staff(actor: Actor) -> None:
    """The stores and statistics pages: stores, safety, beamline staff and admins; others see nothing there."""
    if not (access.is_logistics(actor) or is_beamline_staff(actor)):
        raise Http404("No such page.")


@login_required
def stores(request):
    """Scan a barcode (a keyboard-wedge scanner types it and presses Enter) to open the parcel and
    move it on with one click."""
    actor = _actor(request)
    _require_staff(actor)
    barcode = request.GET.get("barcode", "").strip()[:64]
    parcel = selectors.parcel_by_barcode(actor, barcode) if barcode else None
    next_statuses = []
    if parcel is not None:
        held = access.roles(actor, parcel.shipment.investigation)
        next_statuses = [Status(s) for s in access.next_statuses(parcel.status, held)]
    recent = selectors.parcel_list(actor).filter(status__in=[Status.SENT, Status.STORES, Status.BACK_STORES])
    context = {
        "barcode": barcode,
        "parcel": parcel,
        "next_statuses": next_statuses,
        "waiting": recent.order_by("status", "-created")[:50],
    }
    return render(request, "shipping/stores.html", context, status=404 if barcode and parcel is None else 200)


@login_required
def statistics(request):
    actor = _actor(request)
    _require_staff(actor)
    form = forms.StatisticsForm(request.GET or None)
    today = timezone.localdate()
    start, end = today.replace(month=1, day=1), today
    if form.is_valid():
        start = form.cleaned_data["start"] or start
        end = form.cleaned_data["end"] or end
    if start > end:
        form.add_error("end", "before the start")
        start, end = end, start
    stats = selectors.parcel_statistics(
        actor,
        timezone.make_aware(datetime.combine(start, time.min)),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)),
    )
    if request.GET.get("export") == "csv":
        return _statistics_csv(stats, start, end)
    chart = {
        "months": [month for month, _ in stats["months"]],
        "series": [
            {"label": status.label, "counts": [counts.get(status.value, 0) for _, counts in stats["months"]]}
            for status in Status
        ],
    }
    context = {"form": form, "stats": stats, "start": start, "end": end, "chart": json.dumps(chart)}
    return render(request, "shipping/statistics.html", context, status=400 if form.errors else 200)


def _statistics_csv(stats: dict, start, end) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="parcels-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(["month", *(status.value for status in Status), "total"])
    for month, counts in stats["months"]:
        writer.writerow([month, *(counts.get(status.value, 0) for status in Status), sum(counts.values())])
    return response


@login_required
def sample_tracking(request, pk: int):
    """A catalogue sample's way through the parcels: parcel, container position, status history."""
    sample, items = selectors.sample_items(_actor(request), pk)
    return render(request, "shipping/sample_tracking.html", {"sample": sample, "items": items})
