"""Shapes only: ICAT+'s logbook event (the icat-plus-client package's Event and base64 request models),
in and out. Which logbook an event goes to is settled in views.py."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Event

CATEGORIES = [*Event.Category.values, "commandline"]  # ICAT+ stores and returns it lowercased
MAX_TEXT = 1_000_000


class ContentSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["plainText", "html"], default="plainText")
    text = serializers.CharField(max_length=MAX_TEXT, allow_blank=True, trim_whitespace=False)


class TagInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class RoutingSerializer(serializers.Serializer):
    """Where an instrument's key writes: a named investigation of its instrument, the one running now
    (neither named), or its beamline logbook (beamlineOnly)."""

    investigationId = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    investigationName = serializers.CharField(required=False, max_length=64)
    beamlineOnly = serializers.BooleanField(required=False, default=False)


class EventInSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["annotation", "notification"], default="notification")
    category = serializers.ChoiceField(choices=CATEGORIES, default="info")
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    content = ContentSerializer(many=True, required=False, default=list, max_length=20)
    tag = TagInSerializer(many=True, required=False, default=list, max_length=50)
    datasetId = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    datasetName = serializers.CharField(max_length=255, required=False)
    creationDate = serializers.DateTimeField(required=False)
    machine = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    software = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class KeyEventInSerializer(RoutingSerializer, EventInSerializer):
    pass


class Base64InSerializer(serializers.Serializer):
    base64 = serializers.CharField(help_text="data:<type>;base64,<data>", trim_whitespace=False)
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    datasetId = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    tag = TagInSerializer(many=True, required=False, default=list, max_length=50)
    machine = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    software = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class KeyBase64InSerializer(RoutingSerializer, Base64InSerializer):
    pass


class TagOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    color = serializers.CharField()


class EventSerializer(serializers.Serializer):
    _id = serializers.SerializerMethodField()
    investigationId = serializers.IntegerField(source="investigation_id", allow_null=True)
    instrumentName = serializers.SerializerMethodField()
    datasetId = serializers.IntegerField(source="dataset_id", allow_null=True)
    datasetName = serializers.SerializerMethodField()
    type = serializers.CharField()
    category = serializers.CharField()
    title = serializers.CharField()
    content = serializers.SerializerMethodField()
    tag = TagOutSerializer(source="tags", many=True)
    username = serializers.SerializerMethodField()
    machine = serializers.CharField()
    software = serializers.CharField()
    creationDate = serializers.DateTimeField(source="creation_date")
    createdAt = serializers.DateTimeField(source="created")
    file = serializers.SerializerMethodField()
    previousVersionId = serializers.IntegerField(source="previous_id", allow_null=True)

    def get__id(self, event) -> str:
        return str(event.pk)

    def get_instrumentName(self, event) -> str | None:
        instrument = event.investigation.instrument if event.investigation_id else event.instrument
        return instrument.name if instrument else None

    def get_datasetName(self, event) -> str | None:
        return event.dataset.name if event.dataset_id else None

    @extend_schema_field(ContentSerializer(many=True))
    def get_content(self, event) -> list[dict]:
        content = [{"format": "plainText", "text": event.text}] if event.text else []
        return content + ([{"format": "html", "text": event.html}] if event.html else [])

    def get_username(self, event) -> str | None:
        return event.author.username if event.author_id else None

    def get_file(self, event) -> list[str]:
        return [reverse("logbook:attachment", args=[a.pk]) for a in event.attachments.all()]


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    before = serializers.IntegerField(allow_null=True, help_text="Give it as `before` for the next, older page")


class EventBatchInSerializer(serializers.Serializer):
    """The batch's body; for the schema: KeyEventsBatch reads each event on its own, so that one bad
    event gets its own answer instead of refusing the batch."""

    events = serializers.ListField(
        child=KeyEventInSerializer(),
        max_length=settings.LOGBOOK_BATCH_MAX_EVENTS,
        help_text=f"Up to {settings.LOGBOOK_BATCH_MAX_EVENTS} events (LOGBOOK_BATCH_MAX_EVENTS), each the body of "
        "POST /api/v1/logbook/events/.",
    )


class EventBatchItemSerializer(serializers.Serializer):
    """One event's answer in a batch, at the index it was sent at."""

    index = serializers.IntegerField(min_value=0, help_text="Its place in the request's list, from 0.")
    status = serializers.IntegerField(help_text="201 stored, 400 refused: nothing written of it.")
    id = serializers.IntegerField(required=False, help_text="The stored event's id (201).")
    detail = serializers.CharField(required=False, help_text="What went wrong (400).")
    errors = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Every bad field, with the reason (400)."
    )


class EventBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(min_value=0)
    refused = serializers.IntegerField(min_value=0)
    results = EventBatchItemSerializer(many=True, help_text="One per event sent, in the request's order.")
