"""Writes of the shipping app: keyword-only functions, each one transaction; e-mails on commit.

Bad input raises ShippingError with the problems by field (and, for a sample sheet, by row and
column); nothing is written then.
"""

import csv
import io
import re
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from catalogue.access import Actor
from catalogue.models import InstrumentScientist, Investigation, InvestigationUser, Sample
from techniques.models import Technique
from techniques.validation import validate_plan

from . import access
from .access import Role
from .models import CAPACITY, Address, Item, Parcel, ParcelStatus, Shipment, Status


class ShippingError(Exception):
    """errors: {field: reason}; status_code: 400 for bad input, 403 for a step this actor may not take."""

    def __init__(self, errors: dict[str, str], status_code: int = 400):
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors.items()))
        self.errors = errors
        self.status_code = status_code


BARCODE = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
# Where a parcel is when it reaches a status, unless the change says.
LOCATIONS = {Status.STORES: "stores", Status.BACK_STORES: "stores"}
# Who hears of a change: the investigation's people ("users") and its local contacts and scientists.
NOTIFY = {
    Status.APPROVED: ("users",),
    Status.STORES: ("users", "contacts"),
    Status.BACK_USER: ("users",),
}


def actor_name(actor: Actor) -> str:
    if actor.api_key is not None:
        return f"API key {actor.api_key.name}"
    return actor.user.get_full_name() or actor.user.username


def _require(actor: Actor, investigation: Investigation, role: Role, what: str) -> None:
    if role not in access.roles(actor, investigation):
        raise ShippingError({"__all__": f"Only the investigation's participants may {what}."}, 403)


def _require_editable(actor: Actor, parcel: Parcel) -> None:
    _require(actor, parcel.shipment.investigation, Role.USER, "change a parcel")
    if parcel.status not in access.EDITABLE:
        raise ShippingError(
            {"__all__": f"The parcel is {parcel.get_status_display().lower()}: it cannot change once sent."}, 403
        )


@transaction.atomic
def address_create(*, actor: Actor, investigation: Investigation | None = None, **fields) -> Address:
    """An address of the person (and of the investigation when given, for its other participants)."""
    if investigation is not None:
        _require(actor, investigation, Role.USER, "add an address")
    owner = actor.user if actor.is_person else None
    return Address.objects.create(owner=owner, investigation=investigation, **fields)


@transaction.atomic
def shipment_create(
    *,
    actor: Actor,
    investigation: Investigation,
    name: str,
    shipping_address: Address,
    return_address: Address,
    technique: Technique | None = None,
    courier_company: str = "",
    courier_account: str = "",
    comments: str = "",
) -> Shipment:
    _require(actor, investigation, Role.USER, "create a shipment")
    return Shipment.objects.create(
        investigation=investigation,
        name=name,
        shipping_address=shipping_address,
        return_address=return_address,
        technique=technique,
        courier_company=courier_company,
        courier_account=courier_account,
        comments=comments,
        created_by=actor.user if actor.is_person else None,
    )


@transaction.atomic
def parcel_create(
    *,
    actor: Actor,
    shipment: Shipment,
    name: str,
    storage_conditions: str,
    barcode: str = "",
    contains_dangerous_goods: bool = False,
    customs_value: Decimal | None = None,
    return_instructions: str = "",
    comments: str = "",
) -> Parcel:
    _require(actor, shipment.investigation, Role.USER, "add a parcel")
    errors = {}
    if barcode and not BARCODE.match(barcode):
        errors["barcode"] = "3 to 64 letters, digits, '.', '_' or '-'"
    elif barcode and Parcel.objects.filter(barcode=barcode).exists():
        errors["barcode"] = f"a parcel with barcode '{barcode}' exists already"
    if shipment.parcels.filter(name=name).exists():
        errors["name"] = f"this shipment has a parcel named '{name}' already"
    if storage_conditions not in Parcel.StorageConditions.values:
        errors["storage_conditions"] = f"one of {', '.join(Parcel.StorageConditions.values)}"
    if customs_value is not None and customs_value < 0:
        errors["customs_value"] = "cannot be negative"
    if errors:
        raise ShippingError(errors)
    try:
        with transaction.atomic():
            parcel = Parcel.objects.create(
                shipment=shipment,
                name=name,
                barcode=barcode or _new_barcode(shipment.investigation),
                storage_conditions=storage_conditions,
                contains_dangerous_goods=contains_dangerous_goods,
                customs_value=customs_value,
                return_instructions=return_instructions,
                comments=comments,
            )
    except IntegrityError:  # the same barcode or name stored meanwhile
        raise ShippingError({"barcode": f"a parcel with barcode '{barcode}' exists already"}) from None
    ParcelStatus.objects.create(
        parcel=parcel, status=Status.CREATED, created_by=_user(actor), created_by_name=actor_name(actor)
    )
    return parcel


def _new_barcode(investigation: Investigation) -> str:
    prefix = re.sub(r"[^A-Za-z0-9]", "", investigation.name).upper()[:16]
    return f"{prefix}-{secrets.token_hex(4).upper()}"


def _user(actor: Actor):
    return actor.user if actor.is_person else None


def _check_item(parcel: Parcel, parent: Item | None, type: str, container_type: str, position) -> dict[str, str]:
    errors = {}
    if type not in Item.Type.values:
        return {"type": f"one of {', '.join(Item.Type.values)}"}
    if parent is not None and parent.parcel_id != parcel.pk:
        return {"parent": "not an item of this parcel"}
    allowed_parents = {
        Item.Type.SAMPLE: {None, Item.Type.SAMPLESHEET, Item.Type.CONTAINER},
        Item.Type.CONTAINER: {None, Item.Type.SAMPLESHEET},
    }.get(type, {None})
    if (parent.type if parent else None) not in allowed_parents:
        errors["parent"] = f"a {Item.Type(type).label.lower()} cannot go in a {parent.get_type_display().lower()}"
    if type == Item.Type.CONTAINER and container_type not in Item.ContainerType.values:
        errors["container_type"] = f"one of {', '.join(Item.ContainerType.values)}"
    if type != Item.Type.CONTAINER and container_type:
        errors["container_type"] = "only a container has one"
    if parent is not None and parent.type == Item.Type.CONTAINER:
        capacity = CAPACITY[parent.container_type]
        if position is None:
            errors["position"] = f"required in a container: 1 to {capacity}"
        elif not 1 <= position <= capacity:
            errors["position"] = f"{position} is outside the {parent.get_container_type_display()}: 1 to {capacity}"
        elif (taken := parent.children.filter(position=position).first()) is not None:
            errors["position"] = f"{position} is taken by {taken.name}"
    elif position is not None:
        errors["position"] = "only an item in a container has one"
    return errors


def _plans(shipment: Shipment, experiment_plan: dict, processing_plan: dict) -> tuple[dict, dict, dict]:
    """The validated plans and the problems, as 'experiment_plan.<key>': reason."""
    spec = shipment.technique.plans if shipment.technique else {}
    errors, values = {}, []
    for kind, sent in (("experiment", experiment_plan), ("processing", processing_plan)):
        if not isinstance(sent, dict):
            errors[f"{kind}_plan"] = "expected keys and values"
            values.append({})
            continue
        validated = validate_plan(spec, kind, sent)
        errors |= {f"{kind}_plan.{key}": reason for key, reason in validated.errors.items()}
        values.append(validated.values)
    return values[0], values[1], errors


@transaction.atomic
def item_create(
    *,
    actor: Actor,
    parcel: Parcel,
    type: str,
    name: str,
    parent: Item | None = None,
    container_type: str = "",
    position: int | None = None,
    description: str = "",
    comments: str = "",
    experiment_plan: dict | None = None,
    processing_plan: dict | None = None,
) -> Item:
    _require_editable(actor, parcel)
    errors = _check_item(parcel, parent, type, container_type, position)
    experiment, processing, plan_errors = _plans(parcel.shipment, experiment_plan or {}, processing_plan or {})
    if type != Item.Type.SAMPLE and (experiment or processing):
        plan_errors = {"experiment_plan": "only a sample has plans"}
    errors |= plan_errors
    sample = None
    if type == Item.Type.SAMPLE and not errors:
        investigation = parcel.shipment.investigation
        sample, _ = Sample.objects.get_or_create(investigation=investigation, name=name)
        if (other := sample.shipping_items.select_related("parcel").first()) is not None:
            errors["name"] = f"sample '{name}' is already in parcel {other.parcel.name}"
    if errors:
        raise ShippingError(errors)  # the sample created above goes with the transaction
    return Item.objects.create(
        parcel=parcel,
        parent=parent,
        type=type,
        name=name,
        container_type=container_type,
        position=position,
        description=description,
        comments=comments,
        sample=sample,
        experiment_plan=experiment,
        processing_plan=processing,
    )


@transaction.atomic
def item_delete(*, actor: Actor, item: Item) -> None:
    """Deletes the item and what it holds; their catalogue samples stay."""
    _require_editable(actor, item.parcel)
    item.delete()


@transaction.atomic
def parcel_status_change(
    *,
    actor: Actor,
    parcel: Parcel,
    status: str,
    location: str = "",
    comment: str = "",
    tracking_number: str = "",
    forwarder: str = "",
) -> ParcelStatus:
    """Moves the parcel on, if the workflow and the actor's roles allow it (access.TRANSITIONS)."""
    parcel = Parcel.objects.select_for_update().select_related("shipment__investigation__instrument").get(pk=parcel.pk)
    investigation = parcel.shipment.investigation
    held = access.roles(actor, investigation)
    moves = access.TRANSITIONS.get(parcel.status, {})
    current = parcel.get_status_display().lower()
    if status not in moves:
        allowed = ", ".join(Status(s).label for s in moves) or "none: this is its last status"
        raise ShippingError({"status": f"{_label(status)} is not allowed after {current}; allowed: {allowed}"})
    if not moves[status] & held:
        mine = ", ".join(Status(s).label for s in access.next_statuses(parcel.status, held)) or "none"
        who = " or ".join(sorted(moves[status]))
        raise ShippingError({"status": f"only {who} may set {_label(status)} now; allowed for you: {mine}"}, 403)
    if status in (Status.SENT, Status.BACK_USER) and not tracking_number.strip():
        raise ShippingError({"tracking_number": f"the courier's tracking number is required for {_label(status)}"})
    if status == Status.SENT:
        parcel.shipping_tracking_number, parcel.shipping_forwarder = tracking_number.strip(), forwarder.strip()
    elif status == Status.BACK_USER:
        parcel.return_tracking_number, parcel.return_forwarder = tracking_number.strip(), forwarder.strip()
    parcel.status = status
    parcel.save()
    if not location:
        location = investigation.instrument.name if status == Status.BEAMLINE else LOCATIONS.get(status, "")
    row = ParcelStatus.objects.create(
        parcel=parcel,
        status=status,
        location=location,
        comment=comment,
        created_by=_user(actor),
        created_by_name=actor_name(actor),
    )
    if status in NOTIFY:
        recipients = _recipients(investigation, NOTIFY[status])
        if recipients:
            transaction.on_commit(lambda: _notify(parcel, row, recipients))
    return row


def _label(status: str) -> str:
    return f"'{Status(status).label.lower()}'" if status in Status.values else f"'{status}' (unknown)"


def _recipients(investigation: Investigation, who: tuple[str, ...]) -> list[str]:
    members = InvestigationUser.objects.filter(investigation=investigation)
    emails = set()
    if "users" in who:
        users = members.exclude(role=InvestigationUser.Role.LOCAL_CONTACT)
        emails |= set(users.values_list("user__email", flat=True))
    if "contacts" in who:
        emails |= set(members.filter(role=InvestigationUser.Role.LOCAL_CONTACT).values_list("user__email", flat=True))
        scientists = InstrumentScientist.objects.filter(instrument_id=investigation.instrument_id)
        emails |= set(scientists.values_list("user__email", flat=True))
    return sorted(email for email in emails if email)


def _notify(parcel: Parcel, row: ParcelStatus, recipients: list[str]) -> None:
    investigation = parcel.shipment.investigation
    url = settings.PORTAL_URL + reverse("shipping:parcel-detail", kwargs={"pk": parcel.pk})
    lines = [
        f"Parcel {parcel.name} ({parcel.barcode}) of {investigation.name} {investigation.visit_id} is now: "
        f"{row.get_status_display().lower()}.",
        f"By {row.created_by_name}" + (f", at {row.location}" if row.location else "") + ".",
    ]
    if row.comment:
        lines.append(f"Comment: {row.comment}")
    if row.status == Status.BACK_USER:
        lines.append(f"Return tracking number: {parcel.return_tracking_number} {parcel.return_forwarder}".rstrip())
    lines.append(f"See it at {url}")
    subject = f"[{investigation.name}] Parcel {parcel.name}: {row.get_status_display().lower()}"
    send_mail(subject, "\n".join(lines), None, recipients)


# --- Sample sheets ------------------------------------------------------------------------------

SHEET_COLUMNS = ("container", "container_type", "position", "sample", "comments")
PLAN_COLUMN = re.compile(r"^(experiment|processing)\.(.+)$")
MAX_SHEET_ROWS = 2000


@transaction.atomic
def samplesheet_import(*, actor: Actor, parcel: Parcel, name: str, text: str) -> Item:
    """A CSV of containers, positions, samples and their plans into a new sample sheet of the parcel.

    Columns: container, container_type, position, sample, comments, then experiment.<key> and
    processing.<key>. Every row is checked; any problem (errors keyed 'row N, column C') writes nothing.
    """
    _require_editable(actor, parcel)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows or not any(rows[0]):
        raise ShippingError({"file": "empty: the first row names the columns"})
    header = [column.strip() for column in rows[0]]
    unknown = [c for c in header if c not in SHEET_COLUMNS and not PLAN_COLUMN.match(c)]
    missing = [c for c in ("container", "position", "sample") if c not in header]
    if unknown or missing:
        problems = [f"unknown column '{c}'" for c in unknown] + [f"missing column '{c}'" for c in missing]
        raise ShippingError(
            {
                "file": "; ".join(problems)
                + f" (columns: {', '.join(SHEET_COLUMNS)}, experiment.<key>, processing.<key>)"
            }
        )
    if len(rows) - 1 > MAX_SHEET_ROWS:
        raise ShippingError({"file": f"{len(rows) - 1} rows: at most {MAX_SHEET_ROWS}"})
    sheet = item_create(actor=actor, parcel=parcel, type=Item.Type.SAMPLESHEET, name=name)
    containers: dict[str, Item] = {}
    errors: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            errors[f"row {number}"] = f"{len(row)} cells, the header has {len(header)}"
            continue
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        try:
            _sheet_row(actor, parcel, sheet, containers, cells)
        except ShippingError as exc:
            for field, reason in exc.errors.items():
                errors[f"row {number}, column {_column(field)}"] = reason
    if errors:
        raise ShippingError(errors)
    return sheet


def _column(field: str) -> str:
    """The CSV column of a service's field."""
    if field.endswith("_plan") or "_plan." in field:
        return field.replace("_plan", "")
    return {"name": "sample", "type": "sample", "parent": "container"}.get(field, field)


def _sheet_row(actor: Actor, parcel: Parcel, sheet: Item, containers: dict, cells: dict) -> None:
    container_name = cells["container"]
    if not container_name:
        raise ShippingError({"container": "required"})
    if container_name not in containers:
        try:
            with transaction.atomic():
                containers[container_name] = item_create(
                    actor=actor,
                    parcel=parcel,
                    parent=sheet,
                    type=Item.Type.CONTAINER,
                    name=container_name,
                    container_type=cells.get("container_type") or "",
                )
        except ShippingError as exc:
            raise ShippingError({f"container_{k}" if k == "type" else k: v for k, v in exc.errors.items()}) from None
    try:
        position = int(cells["position"])
    except ValueError:
        raise ShippingError({"position": f"expected a whole number, got '{cells['position']}'"}) from None
    if not cells["sample"]:
        raise ShippingError({"sample": "required"})
    plans = {"experiment": {}, "processing": {}}
    for column, value in cells.items():
        if (match := PLAN_COLUMN.match(column)) and value != "":
            plans[match[1]][match[2]] = value
    with transaction.atomic():
        item_create(
            actor=actor,
            parcel=parcel,
            parent=containers[container_name],
            type=Item.Type.SAMPLE,
            name=cells["sample"],
            position=position,
            comments=cells.get("comments", ""),
            experiment_plan=plans["experiment"],
            processing_plan=plans["processing"],
        )
