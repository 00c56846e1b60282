from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.response import Response

from catalogue import access, selectors, services
from catalogue.filtersets import DatafileFilterSet, DatasetFilterSet, InvestigationFilterSet, SampleFilterSet
from catalogue.models import Dataset

from . import serializers


class ActorMixin:
    @property
    def actor(self) -> access.Actor:
        return access.actor_for(self.request)


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.InstrumentSerializer
    queryset = selectors.instrument_list()
    filterset_fields = ["name"]


class InvestigationViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.InvestigationSerializer
    filterset_class = InvestigationFilterSet

    def get_queryset(self):
        return selectors.investigation_list(self.actor)


class SampleViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.SampleSerializer
    filterset_class = SampleFilterSet

    def get_queryset(self):
        return selectors.sample_list(self.actor).order_by("investigation_id", "name")


class DatasetViewSet(ActorMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Read datasets; POST stores one (upsert by location)."""

    serializer_class = serializers.DatasetSerializer
    filterset_class = DatasetFilterSet

    def get_queryset(self):
        # Only what DatasetSerializer reads: no portal annotations, no instrument or technique rows.
        return selectors.dataset_list(self.actor, portal=False)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return page if page is None else self._with_links(page)

    def get_object(self):
        return self._with_links([super().get_object()])[0]

    def _with_links(self, datasets: list[Dataset]) -> list[Dataset]:
        """Set link_inputs and link_outputs: the ids of the inputs and outputs the caller may read
        (the others stay hidden, as in the portal). Two queries of ids for the whole page, where a
        prefetch built a related manager per dataset and a model instance per link."""
        datasets = list(datasets)
        ids = [d.pk for d in datasets]
        visible = Dataset.objects.filter(access.investigation_q(self.actor, "investigation__"))
        inputs: dict[int, list[int]] = {pk: [] for pk in ids}
        outputs: dict[int, list[int]] = {pk: [] for pk in ids}
        for dataset_id, input_id in visible.filter(outputs__in=ids).values_list("outputs", "pk"):
            inputs[dataset_id].append(input_id)
        for dataset_id, output_id in visible.filter(inputs__in=ids).values_list("inputs", "pk"):
            outputs[dataset_id].append(output_id)
        for dataset in datasets:
            dataset.link_inputs, dataset.link_outputs = inputs[dataset.pk], outputs[dataset.pk]
        return datasets

    @extend_schema(
        request=serializers.DatasetStoreSerializer,
        responses={200: serializers.DatasetSerializer, 201: serializers.DatasetSerializer},
    )
    def create(self, request, *args, **kwargs):
        actor = self.actor
        if not access.can_ingest(actor):
            if not (actor.is_person or actor.api_key):
                raise NotAuthenticated()
            raise PermissionDenied("Only instrument keys, instrument scientists and staff may store datasets.")
        shape = serializers.DatasetStoreSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        data = dict(shape.validated_data)
        if data["files"] is not None:
            data["files"] = [
                {**item, "modified": item["modified"].isoformat() if item["modified"] else None}
                for item in data["files"]
            ]
        try:
            dataset, created = services.dataset_store(actor=actor, request=services.DatasetRequest(**data))
        except services.IngestionError as exc:
            raise ValidationError(exc.errors) from exc
        dataset = self._with_links([self.get_queryset().get(pk=dataset.pk)])[0]
        body = self.get_serializer(dataset).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=serializers.DatasetStatusSerializer)
    @action(detail=True, methods=["get"])
    def status(self, request, pk=None, format=None):
        """Registration progress: complete turns true once the worker has registered the files."""
        return Response(serializers.DatasetStatusSerializer(self.get_object()).data)


class DatafileViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.DatafileSerializer
    filterset_class = DatafileFilterSet

    def get_queryset(self):
        return selectors.datafile_list(self.actor).order_by("dataset_id", "path")
