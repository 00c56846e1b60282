"""The logbook's API: an investigation's events (list, post), an instrument key's events (one, or a batch)
and base64 attachments (to the running investigation of its instrument, a named one, or its beamline
logbook), a search across every logbook the caller reads, and ICAT+'s data-acquisition routes with the
key in the path, as pyicat-plus's IcatElogbookClient sends them."""

import base64
import binascii
import re
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue import security
from catalogue.access import Actor, actor_for
from catalogue.api.errors import writable
from catalogue.models import BIGINT_MAX, Dataset, Investigation
from catalogue.people.services import api_key_authenticate

from .. import selectors, services
from ..access import logbook_write_q
from ..models import Event
from .serializers import (
    Base64InSerializer,
    EventBatchInSerializer,
    EventBatchResultSerializer,
    EventInSerializer,
    EventPageSerializer,
    EventSerializer,
    KeyBase64InSerializer,
    KeyEventInSerializer,
)

DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,", re.ASCII)
BATCH_ITEM_INVALID = "The event is invalid; see errors by field."
BEFORE = OpenApiParameter("before", int, description="Events older than this id (the keyset cursor)")


def _invalid(errors: dict) -> Response:
    return Response({"detail": "The request is invalid; see errors by field.", "errors": errors}, status=400)


def _event_fields(data: dict) -> dict:
    text = "\n".join(c["text"] for c in data["content"] if c["format"] == "plainText")
    html = "\n".join(c["text"] for c in data["content"] if c["format"] == "html")
    return {
        "type": data["type"],
        "category": data["category"],
        "title": data["title"],
        "text": text,
        "html": html,
        "tags": [t["name"] for t in data["tag"]],
        "dataset_name": data.get("datasetName", ""),
        "machine": data["machine"],
        "software": data["software"],
        "creation_date": data.get("creationDate"),
    }


def _dataset(data: dict, investigation: Investigation | None) -> Dataset | None:
    if "datasetId" not in data:
        return None
    dataset = Dataset.objects.filter(pk=data["datasetId"], investigation=investigation).first()
    if dataset is None:
        raise services.LogbookInvalid({"datasetId": "no such dataset in this logbook's investigation"})
    return dataset


def _attachment(data: dict) -> services.AttachmentFile:
    value = data["base64"]
    match = DATA_URL.match(value)
    payload = value[match.end() :] if match else value
    limit = services.max_attachment_bytes()
    if len(payload) > limit * 4 // 3 + 4:
        raise services.LogbookInvalid({"base64": f"larger than the limit of {settings.LOGBOOK_MAX_ATTACHMENT_MB} MB"})
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise services.LogbookInvalid({"base64": "not base64 data (data:<type>;base64,<data>)"}) from None
    content_type = (match.group(1) if match else None) or "application/octet-stream"
    return services.AttachmentFile(data=raw, content_type=content_type, name=data.get("filename", ""))


def _key_logbook(
    actor: Actor, *, investigation_id=None, investigation_name="", instrument_name="", beamline_only=False
):
    """(investigation or None, instrument) a key writes to; LogbookInvalid naming the field otherwise."""
    instrument = actor.api_key.instrument
    if instrument_name and instrument.name.lower() not in [n.strip().lower() for n in instrument_name.split(",")]:
        raise services.LogbookInvalid({"instrumentName": f"not the instrument of this key ({instrument.name})"})
    if beamline_only:
        return None, instrument
    if investigation_id is not None:
        investigation = Investigation.objects.filter(pk=investigation_id, instrument=instrument).first()
        if investigation is None:
            raise services.LogbookInvalid({"investigationId": f"no investigation {investigation_id} on {instrument}"})
        return investigation, instrument
    investigation = selectors.running_investigation(instrument, investigation_name)
    if investigation is None:
        field = "investigationName" if investigation_name else "investigationId"
        raise services.LogbookInvalid({field: f"no investigation {investigation_name or 'running'} on {instrument}"})
    return investigation, instrument


def _before(request) -> int | None:
    """The keyset cursor `before` of the query, if any; a 400 naming it if it is not an event id."""
    before = request.query_params.get("before")
    if before is not None and not (before.isascii() and before.isdigit() and 0 < int(before) <= BIGINT_MAX):
        raise exceptions.ValidationError({"before": "an event id"})
    return int(before) if before else None


def _created(event: Event, code=status.HTTP_201_CREATED) -> Response:
    event = (
        Event.objects.select_related("author", "dataset", "investigation__instrument", "instrument")
        .prefetch_related("tags", "attachments")
        .get(pk=event.pk)
    )
    return Response(EventSerializer(event).data, status=code)


class KeyRequired(exceptions.NotAuthenticated):
    default_detail = "An instrument's API key is needed: 'Authorization: Api-Key <key>'."


@extend_schema(tags=["logbook"])
class InvestigationEvents(APIView):
    """An experiment's logbook: its participants, its instrument's scientists and key, admins."""

    permission_classes = [AllowAny]

    def _investigation(self, request, pk: int) -> Investigation:
        if pk > BIGINT_MAX:
            raise exceptions.NotFound(selectors.MISSING_LOGBOOK)
        return selectors.investigation_logbook_get(actor_for(request), pk)

    @extend_schema(parameters=[BEFORE], responses=EventPageSerializer)
    def get(self, request, pk: int):
        investigation = self._investigation(request, pk)
        events, cursor = selectors.page(
            selectors.investigation_events(investigation).select_related("investigation__instrument"), _before(request)
        )
        return Response({"results": EventSerializer(events, many=True).data, "before": cursor})

    @extend_schema(request=EventInSerializer, responses={201: EventSerializer})
    def post(self, request, pk: int):
        investigation = self._investigation(request, pk)
        actor = actor_for(request)
        if not Investigation.objects.filter(logbook_write_q(actor), pk=investigation.pk).exists():
            raise exceptions.PermissionDenied("You may read this logbook, not write to it.")
        serializer = EventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _event_fields(serializer.validated_data)
        if actor.api_key is None:
            fields["type"] = Event.Type.ANNOTATION  # a person's events are annotations
        try:
            dataset = _dataset(serializer.validated_data, investigation)
            event = services.event_create(investigation=investigation, dataset=dataset, author=request.user, **fields)
        except services.LogbookInvalid as exc:
            return _invalid(exc.errors)
        return _created(event)


class _KeyView(APIView):
    permission_classes = [AllowAny]
    open_methods: tuple[str, ...] = ()  # answered without a key

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in self.open_methods and actor_for(request).api_key is None:
            raise KeyRequired()


@extend_schema(tags=["logbook"])
class KeyEvents(_KeyView):
    """GET: a search across every logbook the caller reads (anyone: a person, a key, anonymous for the
    broadcasts). POST: an instrument's event, to the investigation running on it, a named one, or its
    beamline logbook (the instrument's key only)."""

    open_methods = ("GET", "HEAD")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description="Words to find (PostgreSQL's full-text search of the title, text and HTML: "
                '"beam lost", -word, "or"); none: every event the caller reads',
            ),
            BEFORE,
        ],
        responses=EventPageSerializer,
        operation_id="api_v1_logbook_events_search",
        description="A search across every logbook the caller reads (a person's, a key's; anonymous: the "
        "broadcasts), newest first, 50 a page by keyset (`before`).",
    )
    def get(self, request):
        q = request.query_params.get("q", "").strip()
        if len(q) > selectors.MAX_QUERY or "\x00" in q:
            raise exceptions.ValidationError({"q": f"at most {selectors.MAX_QUERY} characters, no NUL"})
        events, cursor = selectors.page(selectors.event_search(actor_for(request), q), _before(request))
        return Response({"results": EventSerializer(events, many=True).data, "before": cursor})

    @extend_schema(
        request=KeyEventInSerializer,
        responses={201: EventSerializer},
        description="An instrument's event (its key only), to the investigation running on it, a named one, "
        "or its beamline logbook. Many at once: POST /api/v1/logbook/events/batch/.",
    )
    def post(self, request):
        serializer = KeyEventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            investigation, instrument = _key_logbook(
                actor_for(request),
                investigation_id=data.get("investigationId"),
                investigation_name=data.get("investigationName", ""),
                beamline_only=data["beamlineOnly"],
            )
            event = services.event_create(
                investigation=investigation, instrument=instrument, dataset=_dataset(data, investigation),
                **_event_fields(data),
            )  # fmt: skip
        except services.LogbookInvalid as exc:
            return _invalid(exc.errors)
        return _created(event)


@extend_schema(tags=["logbook"], request=EventBatchInSerializer, responses={200: EventBatchResultSerializer})
class KeyEventsBatch(_KeyView):
    """Up to LOGBOOK_BATCH_MAX_EVENTS (500) events of an instrument in one request, each the body of
    POST /api/v1/logbook/events/ (its own logbook: a named or the running investigation, or the
    beamline's): each is checked on its own and answered in `results` at its index, in the request's
    order: 201 with its id, or 400 with its errors by field, which writes nothing of it while the
    others are stored, all in one transaction. A body that is not {"events": [...]}, or longer than
    the limit, is a 400 for all."""

    @property
    def max_body_bytes(self) -> int:
        return settings.LOGBOOK_BATCH_MAX_BODY_MB * 2**20

    def post(self, request):
        if not isinstance(request.data, Mapping):
            raise exceptions.ValidationError({"body": 'send an object: {"events": [...]}'})
        items = request.data.get("events")
        limit = settings.LOGBOOK_BATCH_MAX_EVENTS
        if not isinstance(items, list):
            raise exceptions.ValidationError({"events": f"a list of up to {limit} events is required"})
        if len(items) > limit:
            raise exceptions.ValidationError({"events": f"at most {limit} events a request; this one has {len(items)}"})
        outcomes = _batch(actor_for(request), items)
        results, tally = [], {201: 0, 400: 0}
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Event):
                item = {"index": index, "status": 201, "id": outcome.pk}
            else:
                item = {"index": index, "status": 400, "detail": BATCH_ITEM_INVALID, "errors": writable(outcome)}
            tally[item["status"]] += 1
            results.append(item)
        return Response({"created": tally[201], "refused": tally[400], "results": results})


def _batch(actor: Actor, items: list) -> list[Event | dict]:
    """Each item's event, or its errors by field. The key, its instrument and each logbook the items
    name are read once, the datasets they name by id in one query, and the valid events written
    together (services.event_create_batch)."""
    shape = KeyEventInSerializer()  # one serializer (its fields built once) checks every item
    checked: list[dict | None] = []
    outcomes: list[Event | dict | None] = []
    for item in items:
        try:
            checked.append(shape.run_validation(item))
            outcomes.append(None)
        except exceptions.ValidationError as exc:
            checked.append(None)
            outcomes.append(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
    ids = {data["datasetId"] for data in checked if data is not None and "datasetId" in data}
    datasets = {}
    if ids:
        datasets = {d.pk: d for d in Dataset.objects.filter(pk__in=ids).only("id", "investigation_id", "name")}
    logbooks: dict[tuple, tuple | services.LogbookInvalid] = {}
    specs, at = [], []
    for index, data in enumerate(checked):
        if data is None:
            continue
        route = (data.get("investigationId"), data.get("investigationName", ""), data["beamlineOnly"])
        if route not in logbooks:
            try:
                logbooks[route] = _key_logbook(
                    actor, investigation_id=route[0], investigation_name=route[1], beamline_only=route[2]
                )
            except services.LogbookInvalid as exc:
                logbooks[route] = exc
        logbook = logbooks[route]
        if isinstance(logbook, services.LogbookInvalid):
            outcomes[index] = logbook.errors
            continue
        investigation, instrument = logbook
        dataset = None
        if "datasetId" in data:
            dataset = datasets.get(data["datasetId"])
            if dataset is None or investigation is None or dataset.investigation_id != investigation.pk:
                outcomes[index] = {"datasetId": "no such dataset in this logbook's investigation"}
                continue
        fields = _event_fields(data)
        specs.append(services.EventSpec(investigation=investigation, instrument=instrument, dataset=dataset, **fields))
        at.append(index)
    for index, outcome in zip(at, services.event_create_batch(specs), strict=True):
        outcomes[index] = outcome.errors if isinstance(outcome, services.LogbookInvalid) else outcome
    return outcomes


class _Base64Limit:
    """The body may hold a base64 attachment of LOGBOOK_MAX_ATTACHMENT_MB (4/3 larger), and a little more."""

    @property
    def max_body_bytes(self) -> int:
        return services.max_attachment_bytes() * 4 // 3 + 2**16


@extend_schema(tags=["logbook"], request=KeyBase64InSerializer, responses={201: EventSerializer})
class KeyAttachments(_Base64Limit, _KeyView):
    """An instrument's image or file, base64-encoded, as an attachment event."""

    def post(self, request):
        serializer = KeyBase64InSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            investigation, instrument = _key_logbook(
                actor_for(request),
                investigation_id=data.get("investigationId"),
                investigation_name=data.get("investigationName", ""),
                beamline_only=data["beamlineOnly"],
            )
            event = _attachment_create(data, investigation, instrument)
        except services.LogbookInvalid as exc:
            return _invalid(exc.errors)
        return _created(event)


def _attachment_create(data: dict, investigation, instrument) -> Event:
    return services.event_create(
        investigation=investigation,
        instrument=instrument,
        type=Event.Type.ATTACHMENT,
        category=Event.Category.FILE,
        dataset=_dataset(data, investigation),
        tags=[t["name"] for t in data["tag"]],
        machine=data["machine"],
        software=data["software"],
        attachment=_attachment(data),
    )


# --- ICAT+'s routes: /dataacquisition/{apiKey}/notification and /base64 ---------------------------


class _DataAcquisition(APIView):
    """The key is in the path (checked as catalogue.api.authentication checks the header's); the logbook
    from the query: investigationId, or investigationName (a proposal of the key's instrument), or neither
    for the beamline logbook of instrumentName. Answers ICAT+'s 200 with the event."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        client = security.client_ip(request._request)
        if wait := security.api_key_wait(client):
            raise exceptions.Throttled(wait=wait, detail="Too many failed API keys from this address.")
        secret = kwargs["api_key"]
        key = api_key_authenticate(secret=secret) if "\x00" not in secret else None
        if key is None:
            security.api_key_failed(client)
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked API key.")
        self.actor = Actor(api_key=key)

    def get_authenticate_header(self, request):
        return "Api-Key"  # so that a bad key answers 401, as the header's does

    def _logbook(self, request):
        query = request.query_params
        investigation_id = query.get("investigationId") or None
        if investigation_id is not None and not (
            investigation_id.isascii() and investigation_id.isdigit() and int(investigation_id) <= BIGINT_MAX
        ):
            raise services.LogbookInvalid({"investigationId": "an investigation id"})
        name = query.get("investigationName", "")
        return _key_logbook(
            self.actor,
            investigation_id=int(investigation_id) if investigation_id else None,
            investigation_name=name,
            instrument_name=query.get("instrumentName", ""),
            beamline_only=not (investigation_id or name),
        )


@extend_schema(exclude=True)
class DataAcquisitionNotification(_DataAcquisition):
    def post(self, request, api_key: str):
        serializer = EventInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            investigation, instrument = self._logbook(request)
            event = services.event_create(
                investigation=investigation,
                instrument=instrument,
                dataset=_dataset(serializer.validated_data, investigation),
                **_event_fields(serializer.validated_data),
            )
        except services.LogbookInvalid as exc:
            return _invalid(exc.errors)
        return _created(event, status.HTTP_200_OK)


@extend_schema(exclude=True)
class DataAcquisitionBase64(_Base64Limit, _DataAcquisition):
    def post(self, request, api_key: str):
        serializer = Base64InSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            investigation, instrument = self._logbook(request)
            event = _attachment_create(serializer.validated_data, investigation, instrument)
        except services.LogbookInvalid as exc:
            return _invalid(exc.errors)
        return _created(event, status.HTTP_200_OK)
