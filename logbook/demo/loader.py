"""Loads logbook/demo/events.yaml through the services, after catalogue's load_demo; a second run
changes nothing (the session's logbook is then not empty)."""

from datetime import timedelta
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction

from catalogue.models import Investigation

from .. import services
from ..models import Event

DEMO = Path(__file__).resolve().parent


def load_logbook_demo() -> str:
    data = yaml.safe_load((DEMO / "events.yaml").read_text())
    investigation = Investigation.objects.filter(**data["investigation"]).select_related("instrument").first()
    if investigation is None:
        return "No demo MX session: run load_demo first."
    if Event.objects.filter(investigation=investigation).exists():
        return "The demo logbook is already loaded."
    users = get_user_model().objects
    with transaction.atomic():
        for item in data["events"]:
            _event(item, investigation.start_date, investigation=investigation, users=users)
        for item in data["beamline"]:
            _event(item, investigation.start_date, instrument=investigation.instrument, users=users)
        for item in data["broadcasts"]:
            services.event_create(type="broadcast", category="info", title=item["title"], text=item["text"])
    return f"Loaded the demo logbook of {investigation} ({len(data['events'])} events), its beamline's and a broadcast."


def _event(item: dict, start, *, users, investigation=None, instrument=None) -> Event:
    image = item.get("image")
    return services.event_create(
        investigation=investigation,
        instrument=instrument,
        type=item["type"],
        category=item["category"],
        title=item.get("title", ""),
        text=item.get("text", ""),
        tags=item.get("tags", []),
        author=users.filter(username=item["author"]).first() if "author" in item else None,
        machine=item.get("machine", ""),
        software=item.get("software", ""),
        creation_date=start + timedelta(minutes=item["minutes"]),
        attachment=services.AttachmentFile(data=(DEMO / image).read_bytes(), content_type="image/png", name=image)
        if image
        else None,
    )
