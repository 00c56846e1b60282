"""The API's ZIP downloads and the selection: a `download` action for the dataset and investigation
viewsets (mixins, so that their classes only list them), and /api/v1/selection/ for a signed-in
person (session or OpenID Connect token; instrument keys have no selection).

Datasets not online answer 409 {"detail", "datasets": [ids not online]}, before any byte is sent."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAcceptable, NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from catalogue import access, selectors
from catalogue.models import BIGINT_MAX, DownloadRecord
from catalogue.storage import selection as selection_services
from catalogue.storage.downloads import NotOnline
from catalogue.storage.zips import dataset_folder, zip_datasets, zip_stream_response

from .schema import ERROR

NOT_ONLINE = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "datasets": {"type": "array", "items": {"type": "integer"}, "description": "The ids not online"},
    },
    "required": ["detail", "datasets"],
}
ZIP_RESPONSES = {
    (200, "application/zip"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="One ZIP (stored, ZIP64), streamed: a folder per dataset and MANIFEST.tsv (path, size, "
        "checksum of every file). Content-Length is the archive's exact size.",
    ),
    (409, "application/json"): OpenApiResponse(
        NOT_ONLINE, description="Some datasets are not on disk (archived): restore them first."
    ),
}


class ZipNegotiation(DefaultContentNegotiation):
    """A ZIP answers any Accept (its bytes are not rendered); a 409 falls back to JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


def _zip(request, actor, datasets, *, filename: str, kind: str):
    try:
        found = zip_datasets(datasets)
    except NotOnline as exc:
        return Response({"detail": str(exc), "datasets": exc.datasets}, status=status.HTTP_409_CONFLICT)
    return zip_stream_response(request, actor, found, filename=filename, kind=kind)


class DatasetZipMixin:
    """GET /datasets/<id>/download/: the dataset as one ZIP."""

    @extend_schema(responses=ZIP_RESPONSES)
    @action(detail=True, methods=["get"], content_negotiation_class=ZipNegotiation)
    def download(self, request, pk=None, format=None):
        """Every file of the dataset as one ZIP, streamed, with a manifest. Recorded for the statistics."""
        dataset = self.get_object()
        datasets = selectors.dataset_list(self.actor, portal=False).filter(pk=dataset.pk)
        filename = f"{dataset_folder(dataset.pk, dataset.name)}.zip"
        return _zip(request, self.actor, datasets, filename=filename, kind=DownloadRecord.Kind.DATASET)


class InvestigationZipMixin:
    """GET /investigations/<id>/download/: all its datasets as one ZIP."""

    @extend_schema(responses=ZIP_RESPONSES)
    @action(detail=True, methods=["get"], content_negotiation_class=ZipNegotiation)
    def download(self, request, pk=None, format=None):
        """Every dataset of the investigation as one ZIP (a folder each), streamed, with a manifest."""
        investigation = self.get_object()
        datasets = selectors.dataset_list(self.actor, portal=False).filter(investigation=investigation)
        filename = f"{dataset_folder(investigation.pk, f'{investigation.name}_{investigation.visit_id}')}.zip"
        return _zip(request, self.actor, datasets, filename=filename, kind=DownloadRecord.Kind.INVESTIGATION)


class SelectionChangeSerializer(serializers.Serializer):
    datasets = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX), allow_empty=False, max_length=1000
    )


SELECTION = inline_serializer(
    "Selection",
    {
        "datasets": serializers.ListField(child=serializers.IntegerField(), help_text="Ids, newest first"),
        "count": serializers.IntegerField(),
        "size": serializers.IntegerField(help_text="Bytes"),
        "online": serializers.IntegerField(help_text="How many are on disk"),
    },
)
CHANGED = inline_serializer(
    "SelectionChanged", {"changed": serializers.IntegerField(), "count": serializers.IntegerField()}
)


class _OneSelection(AutoSchema):
    """Its `list` answers one object, the person's selection, not a list of them."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class SelectionViewSet(viewsets.ViewSet):
    """The signed-in person's selection of datasets (the portal's /selection/)."""

    schema = _OneSelection()

    def _actor(self) -> access.Actor:
        actor = access.actor_for(self.request)
        if actor.api_key is not None:
            raise PermissionDenied("Instrument keys have no selection: sign in as a person.")
        if not actor.is_person:
            raise NotAuthenticated()
        return actor

    def _ids(self, request) -> list[int]:
        shape = SelectionChangeSerializer(data=request.data)
        if not shape.is_valid():
            raise ValidationError(shape.errors)
        return shape.validated_data["datasets"]

    def _changed(self, actor, changed: int) -> Response:
        return Response({"changed": changed, "count": selection_services.selection_count(actor.user)})

    @extend_schema(responses=SELECTION)
    def list(self, request, format=None):
        """The datasets of the selection that the person may read, with their total size."""
        actor = self._actor()
        ids = list(
            selection_services.selection_datasets(actor).order_by("-start_date", "-id").values_list("pk", flat=True)
        )
        totals = selection_services.selection_totals(actor)
        return Response(
            {"datasets": ids, "count": totals["datasets"], "size": totals["size"], "online": totals["online"]}
        )

    @extend_schema(request=SelectionChangeSerializer, responses=CHANGED)
    def create(self, request, format=None):
        """Add datasets (those the person may not read are ignored, as missing ones); `changed`: how many were new."""
        actor = self._actor()
        return self._changed(actor, selection_services.selection_add(user=actor.user, dataset_ids=self._ids(request)))

    @extend_schema(request=SelectionChangeSerializer, responses=CHANGED)
    @action(detail=False, methods=["post"])
    def remove(self, request, format=None):
        """Take datasets out of the selection."""
        actor = self._actor()
        removed = selection_services.selection_remove(user=actor.user, dataset_ids=self._ids(request))
        return self._changed(actor, removed)

    @extend_schema(request=None, responses=CHANGED)
    @action(detail=False, methods=["post"])
    def clear(self, request, format=None):
        """Empty the selection."""
        actor = self._actor()
        return self._changed(actor, selection_services.selection_clear(user=actor.user))

    @extend_schema(responses={**ZIP_RESPONSES, 401: ERROR})
    @action(detail=False, methods=["get"], content_negotiation_class=ZipNegotiation)
    def download(self, request, format=None):
        """The selection as one ZIP (a folder per dataset), streamed, with a manifest."""
        actor = self._actor()
        datasets = selection_services.selection_datasets(actor)
        return _zip(request, actor, datasets, filename="selection.zip", kind=DownloadRecord.Kind.SELECTION)
