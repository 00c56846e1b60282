"""The storage API in the terms of ICAT's IDS, so that its clients map onto it: the status of data
(ONLINE / RESTORING / ARCHIVED), a restore, and a prepared download (prepareData -> an id ->
isPrepared -> getData). Data are named as IDS names them: `investigationIds`, `datasetIds` and
`datafileIds`, comma-separated (a file stands for its dataset). The caller is whoever the API
authenticates (a person's session or token, an instrument key, or nobody for open data): no
IDS sessionId. Answers are plain text as IDS's, errors the API's JSON.
"""

import secrets

from django.db.models import Q
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue import selectors
from catalogue.access import Actor, actor_for
from catalogue.models import BIGINT_MAX, Datafile, Dataset, DownloadRecord, PreparedDownload

from .downloads import NotOnline
from .services import restore_request
from .zips import zip_response

MAX_IDS = 10_000
ID_FIELDS = ("investigationIds", "datasetIds", "datafileIds")
ID_PARAMETERS = [
    OpenApiParameter(
        name, OpenApiTypes.STR, description=f"Comma-separated ids (up to {MAX_IDS:,} in all)", pattern=r"^[0-9, ]*$"
    )
    for name in ID_FIELDS
]
PREPARED_ID = OpenApiParameter("preparedId", OpenApiTypes.STR, required=True, description="From prepareData")
TEXT = {(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR)}


class NotOnDisk(APIException):
    status_code = 409
    default_code = "not_online"
    default_detail = "Some of the data are archived: restore them first."


def _text(value) -> HttpResponse:
    return HttpResponse(str(value), content_type="text/plain; charset=utf-8")


def _ids(data) -> dict[str, list[int]]:
    found, errors = {}, {}
    for field in ID_FIELDS:
        values = [part.strip() for part in str(data.get(field) or "").split(",") if part.strip()]
        if not all(value.isdigit() for value in values):
            errors[field] = "comma-separated ids (whole numbers) only"
        elif not all(len(value) <= 19 and 0 < int(value) <= BIGINT_MAX for value in values):
            errors[field] = "not an id: ids run from 1 to 2^63-1"
        else:
            found[field] = sorted({int(value) for value in values})
    if not errors and sum(len(ids) for ids in found.values()) > MAX_IDS:
        errors["datasetIds"] = f"at most {MAX_IDS:,} ids in all"
    if not errors and not any(found.values()):
        errors["datasetIds"] = "name at least one investigation, dataset or datafile"
    if errors:
        raise ValidationError(errors)
    return found


def _named(request):
    """The ids as a GET's query, or a POST's query or form (IDS's clients send forms)."""
    if request.method == "POST" and not any(field in request.query_params for field in ID_FIELDS):
        return request.data if hasattr(request.data, "get") else {}
    return request.query_params


def named_datasets(actor: Actor, data):
    """The datasets the ids name, among those the actor may read. An id the actor may not see
    answers as a missing one: 404 naming the field."""
    ids = _ids(data)
    readable = selectors.readable_datasets(actor)
    investigations = ids["investigationIds"]
    if investigations:
        seen = selectors.investigation_list(actor).filter(pk__in=investigations).values_list("pk", flat=True)
        if len(seen) != len(investigations):
            raise NotFound("investigationIds: no such investigation.")
    dataset_ids = set(ids["datasetIds"])
    if ids["datasetIds"] and readable.filter(pk__in=ids["datasetIds"]).count() != len(ids["datasetIds"]):
        raise NotFound("datasetIds: no such dataset.")
    if ids["datafileIds"]:
        files = Datafile.objects.filter(pk__in=ids["datafileIds"], dataset__in=readable.values("pk"))
        of_files = dict(files.values_list("pk", "dataset_id"))
        if len(of_files) != len(ids["datafileIds"]):
            raise NotFound("datafileIds: no such datafile.")
        dataset_ids |= set(of_files.values())
    return readable.filter(Q(pk__in=dataset_ids) | Q(investigation_id__in=investigations))


def aggregate_status(datasets) -> str:
    """IDS's one word for many datasets: ARCHIVED if any is, else RESTORING if any is, else ONLINE."""
    statuses = set(datasets.values_list("storage_status", flat=True).distinct())
    for status in (Dataset.StorageStatus.ARCHIVED, Dataset.StorageStatus.RESTORING):
        if status in statuses:
            return status.upper()
    return "ONLINE"


class RestoreAnswer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Restores started by this request")
    joined = serializers.IntegerField(help_text="Restores under way, which now notify you too")
    online = serializers.IntegerField(help_text="Datasets on disk already")
    detail = serializers.CharField()


def _restore(request, actor: Actor, datasets) -> Response:
    if not actor.is_person:
        if actor.api_key is not None:
            raise PermissionDenied("Restores are requested by people (who are told when their data are online).")
        raise NotAuthenticated()
    summary = restore_request(user=actor.user, datasets=datasets)
    body = {"queued": summary.queued, "joined": summary.joined, "online": summary.online, "detail": summary.message}
    return Response(RestoreAnswer(body).data, status=202)


class GetStatus(APIView):
    @extend_schema(operation_id="ids_get_status", parameters=ID_PARAMETERS, responses=TEXT, tags=["ids"])
    def get(self, request, format=None):
        """ONLINE, RESTORING or ARCHIVED: the state of the named data (the least available of them)."""
        return _text(aggregate_status(named_datasets(actor_for(request), _named(request))))


class GetSize(APIView):
    @extend_schema(operation_id="ids_get_size", parameters=ID_PARAMETERS, responses=TEXT, tags=["ids"])
    def get(self, request, format=None):
        """The named data's size in bytes (their registered files)."""
        datasets = named_datasets(actor_for(request), _named(request))
        return _text(sum(datasets.values_list("size", flat=True)))


class Restore(APIView):
    @extend_schema(
        operation_id="ids_restore", parameters=ID_PARAMETERS, request=None, responses={202: RestoreAnswer}, tags=["ids"]
    )
    def post(self, request, format=None):
        """Restore the named data from the archive; you get an e-mail when they are online. Requests
        for data being restored already join that restore."""
        actor = actor_for(request)
        return _restore(request, actor, named_datasets(actor, _named(request)))


class PrepareData(APIView):
    @extend_schema(
        operation_id="ids_prepare_data", parameters=ID_PARAMETERS, request=None, responses=TEXT, tags=["ids"]
    )
    def post(self, request, format=None):
        """Prepare the named data for download: archived ones are restored (for a signed-in person).
        Answers the prepared id, for isPrepared and getData."""
        actor = actor_for(request)
        datasets = named_datasets(actor, _named(request))
        if datasets.exclude(storage_status=Dataset.StorageStatus.ONLINE).exists():
            _restore(request, actor, datasets)
        prepared = PreparedDownload.objects.create(
            id=secrets.token_urlsafe(32),
            user=actor.user if actor.is_person else None,
            dataset_ids=sorted(datasets.values_list("pk", flat=True)),
        )
        return _text(prepared.id)


def _prepared(request) -> PreparedDownload:
    actor = actor_for(request)
    prepared_id = request.query_params.get("preparedId", "")
    user = actor.user if actor.is_person else None
    prepared = PreparedDownload.objects.filter(id=prepared_id[:64], user=user).first()
    if prepared is None:
        raise NotFound("preparedId: no such prepared download.")
    return prepared


def _prepared_datasets(request, prepared: PreparedDownload):
    """Its datasets, read access checked again: a release date may have moved since (then the whole
    prepared download answers as a missing one, never as part of it)."""
    datasets = selectors.readable_datasets(actor_for(request)).filter(pk__in=prepared.dataset_ids)
    if datasets.count() != len(prepared.dataset_ids):
        raise NotFound("preparedId: no such prepared download.")
    return datasets


class IsPrepared(APIView):
    @extend_schema(operation_id="ids_is_prepared", parameters=[PREPARED_ID], responses=TEXT, tags=["ids"])
    def get(self, request, format=None):
        """true once every dataset of the prepared download is online, else false."""
        datasets = _prepared_datasets(request, _prepared(request))
        return _text("false" if datasets.exclude(storage_status=Dataset.StorageStatus.ONLINE).exists() else "true")


class GetData(APIView):
    @extend_schema(
        operation_id="ids_get_data",
        parameters=[PREPARED_ID],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The data as one ZIP"),
            (409, "application/json"): OpenApiResponse(description="Not prepared yet: some data are archived"),
        },
        tags=["ids"],
    )
    def get(self, request, format=None):
        """The prepared data as one ZIP, streamed (a folder per dataset, with a manifest)."""
        prepared = _prepared(request)
        datasets = _prepared_datasets(request, prepared)
        try:
            return zip_response(
                request,
                actor_for(request),
                datasets,
                filename=f"data-{prepared.id[:8]}.zip",
                kind=DownloadRecord.Kind.SELECTION,
            )
        except NotOnline as exc:
            raise NotOnDisk(str(exc)) from exc
