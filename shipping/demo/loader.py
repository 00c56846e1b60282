from decimal import Decimal
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction

from catalogue.access import Actor
from catalogue.models import Investigation
from techniques.models import Technique

from .. import services
from ..models import Item, Parcel, Shipment

DEMO_FILE = Path(__file__).resolve().parent / "shipment.yaml"


@transaction.atomic
def load_shipping_demo(path: Path = DEMO_FILE) -> str:
    """Stores the demo shipment unless it is there already; says what it did."""
    spec = yaml.safe_load(path.read_text())
    investigation = Investigation.objects.filter(name=spec["proposal"], visit_id=spec["visit_id"]).first()
    if investigation is None:
        return f"Shipping demo skipped: no session {spec['proposal']} {spec['visit_id']} (run load_demo first)."
    if Shipment.objects.filter(investigation=investigation, name=spec["name"]).exists():
        return "Shipping demo up to date."
    users = {user.username: user for user in get_user_model().objects.all()}
    owner = Actor(user=users[spec["created_by"]])
    address = services.address_create(actor=owner, investigation=investigation, **spec["address"])
    shipment = services.shipment_create(
        actor=owner,
        investigation=investigation,
        name=spec["name"],
        shipping_address=address,
        return_address=address,
        technique=Technique.objects.filter(code=spec.get("technique")).first(),
        courier_company=spec.get("courier_company", ""),
        courier_account=spec.get("courier_account", ""),
    )
    for parcel_spec in spec["parcels"]:
        fields = {k: v for k, v in parcel_spec.items() if k not in ("content", "statuses")}
        if "customs_value" in fields:
            fields["customs_value"] = Decimal(fields["customs_value"])
        parcel = services.parcel_create(actor=owner, shipment=shipment, **fields)
        _items(owner, parcel, None, parcel_spec.get("content", []))
        for step in parcel_spec.get("statuses", []):
            step = dict(step)
            services.parcel_status_change(actor=Actor(user=users[step.pop("by")]), parcel=parcel, **step)
    parcels = Parcel.objects.filter(shipment=shipment)
    return f"Shipping demo: shipment '{shipment.name}' with " + ", ".join(
        f"{parcel.name} ({parcel.barcode}, {parcel.get_status_display().lower()})" for parcel in parcels
    )


def _items(actor: Actor, parcel: Parcel, parent: Item | None, specs: list[dict]) -> None:
    for spec in specs:
        spec = dict(spec)
        content = spec.pop("content", [])
        spec.setdefault("type", Item.Type.SAMPLE)
        item = services.item_create(actor=actor, parcel=parcel, parent=parent, **spec)
        _items(actor, parcel, item, content)
