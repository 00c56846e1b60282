import json
from collections.abc import Mapping

import orjson
from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotAcceptable, NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from catalogue import access, selectors
from catalogue.filtersets import DatafileFilterSet, DatasetFilterSet, InvestigationFilterSet, SampleFilterSet
from catalogue.ingestion.batch import dataset_store_batch
from catalogue.ingestion.services import DatasetRequest, IngestionError, dataset_store
from catalogue.models import Dataset
from catalogue.pagination import CappedPageNumberPagination
from catalogue.storage import downloads

from . import serializers
from .errors import writable
from .listing import dataset_page_data, dataset_page_json, dataset_rows, dataset_values
from .schema import ERROR
from .zips import DatasetZipMixin, InvestigationZipMixin


class ActorMixin:
    @property
    def actor(self) -> access.Actor:
        return access.actor_for(self.request)


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.InstrumentSerializer
    queryset = selectors.instrument_list()
    filterset_fields = ["name"]


class InvestigationViewSet(ActorMixin, InvestigationZipMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.InvestigationSerializer
    filterset_class = InvestigationFilterSet

    def get_queryset(self):
        return selectors.investigation_list(self.actor)


class SampleViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.SampleSerializer
    filterset_class = SampleFilterSet

    def get_queryset(self):
        return selectors.sample_list(self.actor).order_by("investigation_id", "name")


BATCH_ITEM_INVALID = "The dataset is invalid; see errors by field."


class DatasetViewSet(ActorMixin, DatasetZipMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Read datasets; POST stores one (upsert by location)."""

    serializer_class = serializers.DatasetSerializer
    filterset_class = DatasetFilterSet
    pagination_class = CappedPageNumberPagination

    @property
    def max_body_bytes(self) -> int | None:
        """Read by catalogue.api.parsers.JSONParser: file lists make the ingestion body large; other
        actions keep Django's limit (None)."""
        if self.action == "batch":
            return settings.INGESTION_BATCH_MAX_BODY_MB * 2**20
        return settings.INGESTION_MAX_BODY_MB * 2**20 if self.action == "create" else None

    def get_queryset(self):
        # Only what DatasetSerializer reads: no portal annotations, no instrument or technique rows.
        return selectors.dataset_list(self.actor, portal=False)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return page if page is None else self._with_links(page)

    def get_object(self):
        return self._with_links([super().get_object()])[0]

    def _with_links(self, datasets: list[Dataset]) -> list[Dataset]:
        """Set link_inputs and link_outputs (see _links)."""
        datasets = list(datasets)
        links = self._links([d.pk for d in datasets])
        for dataset in datasets:
            dataset.link_inputs, dataset.link_outputs = links[dataset.pk]
        return datasets

    def _links(self, ids: list[int]) -> dict[int, tuple[list[int], list[int]]]:
        """By dataset id: the sorted ids of its inputs and of its outputs that the caller may read
        (the others stay hidden, as in the portal). One query of the page's link pairs, and one
        more when a link leaves the page for someone who is not an admin: are those ends visible?
        (Checking the access policy inside the first query made PostgreSQL hash every investigation.)"""
        inputs: dict[int, list[int]] = {pk: [] for pk in ids}
        outputs: dict[int, list[int]] = {pk: [] for pk in ids}
        # A link row is (output "from", input "to").
        pairs = list(
            Dataset.inputs.through.objects.filter(Q(from_dataset_id__in=ids) | Q(to_dataset_id__in=ids))
            .order_by("pk")
            .values_list("from_dataset_id", "to_dataset_id")
        )
        elsewhere = {end for pair in pairs for end in pair} - inputs.keys()
        if elsewhere and not self.actor.is_admin:
            visible = selectors.dataset_list(self.actor, portal=False).filter(pk__in=elsewhere)
            elsewhere -= set(visible.values_list("pk", flat=True))  # now the hidden ones
        else:
            elsewhere = set()
        for output_id, input_id in pairs:
            if output_id in inputs and input_id not in elsewhere:
                inputs[output_id].append(input_id)
            if input_id in outputs and output_id not in elsewhere:
                outputs[input_id].append(output_id)
        return {pk: (sorted(inputs[pk]), sorted(outputs[pk])) for pk in ids}

    @extend_schema(
        request=serializers.DatasetStoreSerializer,
        responses={200: serializers.DatasetSerializer, 201: serializers.DatasetSerializer},
    )
    def create(self, request, *args, **kwargs):
        actor = self._ingesting_actor()
        dataset_request, shape_errors = self._dataset_request(request.data)
        if dataset_request is None:
            raise ValidationError(shape_errors)  # not an object at all
        try:
            dataset, created = dataset_store(actor=actor, request=dataset_request, shape_errors=shape_errors)
        except IngestionError as exc:
            raise ValidationError(exc.errors) from exc
        self._set_links(dataset, created, dataset_request)
        body = self.get_serializer(dataset).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=serializers.DatasetBatchSerializer,
        responses={200: serializers.DatasetBatchResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def batch(self, request, format=None):
        """Store up to 500 datasets, each the body of POST /api/v1/datasets/, in one transaction: each
        is checked on its own (the new ones then written together, updates each in a savepoint) and
        answered in `results` at its index, in the request's order: 201 stored, 200 updated (same
        location), or 400 with its errors, which writes nothing of it while the others stay. Storing
        the same batch again updates the same datasets. A body that is not {"datasets": [...]}, or
        longer than 500, is a 400 for all."""
        actor = self._ingesting_actor()
        if not isinstance(request.data, Mapping):
            raise ValidationError({"body": 'send an object: {"datasets": [...]}'})
        items = request.data.get("datasets")
        if not isinstance(items, list):
            raise ValidationError(
                {"datasets": f"a list of up to {serializers.BATCH_MAX_DATASETS} datasets is required"}
            )
        if len(items) > serializers.BATCH_MAX_DATASETS:
            raise ValidationError(
                {"datasets": f"at most {serializers.BATCH_MAX_DATASETS} datasets a request; this one has {len(items)}"}
            )
        reader = serializers.DatasetStoreSerializer()  # one for all: a serializer copies its fields
        requests = [self._dataset_request(item, reader) for item in items]
        outcomes = dataset_store_batch(actor=actor, requests=requests)
        # The stored datasets as the list answers them (catalogue.api.listing): one query for all.
        ids = [outcome[0].pk for outcome in outcomes if not isinstance(outcome, IngestionError)]
        values = dataset_values(Dataset.objects.filter(pk__in=ids).order_by())
        answers = {row["id"]: row for row in dataset_rows(values, self._links(ids))}
        results, tally = [], {201: 0, 200: 0, 400: 0}
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, IngestionError):
                # As DRF writes errors (keys that are indexes, integers past 64 bits), for orjson to embed.
                errors = orjson.Fragment(json.dumps(writable(outcome.errors), cls=JSONEncoder, ensure_ascii=False))
                item = {"index": index, "status": 400, "detail": BATCH_ITEM_INVALID, "errors": errors}
            else:
                dataset, created = outcome
                item = {"index": index, "status": 201 if created else 200, "dataset": answers[dataset.pk]}
            tally[item["status"]] += 1
            results.append(item)
        return self._plain_json(
            request, {"created": tally[201], "updated": tally[200], "refused": tally[400], "results": results}
        )

    def _ingesting_actor(self) -> access.Actor:
        """The caller, when it may store datasets: 401 without credentials, 403 for other people."""
        actor = self.actor
        if not access.can_ingest(actor):
            if not (actor.is_person or actor.api_key):
                raise NotAuthenticated()
            raise PermissionDenied("Only instrument keys, instrument scientists and staff may store datasets.")
        return actor

    @staticmethod
    def _dataset_request(
        data, reader: serializers.DatasetStoreSerializer | None = None
    ) -> tuple[DatasetRequest | None, dict]:
        """A storeDataset body read by DatasetStoreSerializer: (request, the fields it refused), or
        (None, errors) for a body that is not an object at all. reader: a serializer (without data)
        that reads the valid bodies of a batch, so that its fields are built once."""
        if reader is not None and isinstance(data, Mapping):
            try:
                return DatasetRequest(**reader.run_validation(data)), {}
            except ValidationError:
                pass  # read again below, for the fields that passed
        shape = serializers.DatasetStoreSerializer(data=data)
        if shape.is_valid():
            return DatasetRequest(**shape.validated_data), {}
        if isinstance(shape.initial_data, Mapping):
            # One validation pass: the service still checks the fields that passed (an unknown
            # proposal or definition), reports them with these, and writes nothing.
            return DatasetRequest(**shape.readable_data()), shape.errors
        return None, shape.errors

    def _set_links(self, dataset: Dataset, created: bool, dataset_request: DatasetRequest) -> None:
        """The links of a stored dataset, for its answer (it holds its investigation, sample and
        definition: no need to read it again). Read unless it is new without inputs: it links
        nothing yet."""
        if created and not dataset_request.inputs:
            dataset.link_inputs, dataset.link_outputs = [], []
        else:
            self._with_links([dataset])

    @extend_schema(responses=serializers.DatasetFacetsSerializer, filters=True)
    @action(detail=False, methods=["get"])
    def facets(self, request, format=None):
        """Facet counts: how many of the datasets the list gives for the same filters there are per
        instrument, technique and start year. Counted in full, not capped. Filtered by investigation,
        instrument, definition, technique and year only, they come from counts kept per investigation."""
        search = self.filterset_class(request.query_params, queryset=self.get_queryset(), request=request)
        if not search.is_valid():
            raise ValidationError(search.errors)
        facets = selectors.dataset_facets(self.actor, search.form.cleaned_data, search.qs)
        return Response(serializers.DatasetFacetsSerializer(facets).data)

    @extend_schema(responses=serializers.DatasetStatusSerializer)
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None, format=None):
        """Registration progress: complete turns true once the worker has registered the files."""
        return Response(serializers.DatasetStatusSerializer(self.get_object()).data)

    # The page as DatasetSerializer describes it (the schema), built without serializer instances
    # (issue 17, decision 3): the rows' columns (.values()) turned into dicts by catalogue.api.listing,
    # the JSON written by orjson. Same access policy (get_queryset), filters, pagination and links as
    # before; test_listing compares the answer with DatasetSerializer's on the same rows. (Last in the
    # class: the name list would stand for this method in the annotations below it. A comment, not a
    # docstring: the schema would take it as the operation's description.)
    @extend_schema(responses=serializers.DatasetSerializer(many=True))
    def list(self, request, *args, **kwargs):
        queryset = dataset_values(self.filter_queryset(self.get_queryset()))
        values = self.paginator.paginate_queryset(queryset, request, view=self)
        rows = dataset_rows(values, self._links([row["id"] for row in values]))
        return self._plain_json(request, self.get_paginated_response(rows).data)

    @staticmethod
    def _plain_json(request, body) -> HttpResponse:
        """A body of catalogue.api.listing's rows written by orjson; through DRF for its other
        renderers (the browsable API)."""
        if request.accepted_renderer.format != "json":
            return Response(dataset_page_data(body))
        return HttpResponse(dataset_page_json(body), content_type="application/json")


class NotOnDisk(APIException):
    """409: the dataset's files are archived, not on disk."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "not_online"


class DownloadNegotiation(DefaultContentNegotiation):
    """A download answers any Accept (its bytes are not rendered); errors fall back to JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class DatafileViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.DatafileSerializer
    filterset_class = DatafileFilterSet
    pagination_class = CappedPageNumberPagination

    def get_queryset(self):
        return selectors.datafile_list(self.actor).order_by("dataset_id", "path")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Range",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="One byte range (`bytes=0-99`, `bytes=100-`, `bytes=-100`) to resume a cut download; "
                "several ranges are answered with the whole file.",
            )
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The whole file, as an attachment named after it."
            ),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The range asked for (Content-Range says which)."
            ),
            (409, "application/json"): OpenApiResponse(
                ERROR, description="The dataset is not on disk (archived): it must be restored first."
            ),
            416: OpenApiResponse(description="The range starts past the end; Content-Range: bytes */<size>."),
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def download(self, request, pk=None, format=None):
        """The file's bytes, streamed, with HTTP Range support (`curl -C -` resumes a cut download).
        Read access as for its dataset; every download is recorded for the facility's statistics."""
        try:
            pk = int(pk)
        except ValueError:
            raise Http404("No such file.") from None
        datafile = downloads.datafile_get(self.actor, pk)
        try:
            return downloads.download(request, self.actor, datafile)
        except downloads.NotOnline as exc:
            raise NotOnDisk(str(exc)) from exc
