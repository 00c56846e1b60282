"""The vocabulary as a reference, read-only and public: /api/v1/techniques/, /api/v1/parameters/."""

import django_filters
from django.db.models import Q
from rest_framework import serializers, viewsets

from .models import DatasetDefinition, ParameterType, Technique

# The columns of the vocabulary, in the API and in the CSV and JSON exports of a technique page.
PARAMETER_FIELDS = [
    "name",
    "label",
    "unit",
    "value_type",
    "description",
    "technique",
    "minimum",
    "maximum",
    "permitted_values",
    "nexus_path",
    "searchable",
]


class DatasetDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetDefinition
        fields = [
            "code",
            "label",
            "kind",
            "summary",
            "expects",
            "requires",
            "input_definitions",
            "input_min",
            "input_max",
            "views",
        ]


class TechniqueSerializer(serializers.ModelSerializer):
    definitions = DatasetDefinitionSerializer(many=True, read_only=True)

    class Meta:
        model = Technique
        fields = ["code", "name", "description", "panet_id", "views", "definitions"]


class ParameterTypeSerializer(serializers.ModelSerializer):
    # Null for the parameters every technique shares (shared.yaml).
    technique = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = ParameterType
        fields = PARAMETER_FIELDS


class ParameterTypeFilterSet(django_filters.FilterSet):
    technique = django_filters.CharFilter(field_name="technique__code", label="Technique code")
    q = django_filters.CharFilter(method="filter_text", label="Name or label contains (typeahead)")

    class Meta:
        model = ParameterType
        fields = ["technique", "value_type", "searchable"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(label__icontains=value))


# DRF's default ([^/.]+) without NUL, which PostgreSQL cannot compare: such a URL is a 404.
LOOKUP_VALUE = r"[^/.\x00]+"


class TechniqueViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TechniqueSerializer
    queryset = Technique.objects.prefetch_related("definitions")
    lookup_field = "code"
    lookup_value_regex = LOOKUP_VALUE


class ParameterTypeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ParameterTypeSerializer
    queryset = ParameterType.objects.select_related("technique")
    filterset_class = ParameterTypeFilterSet
    lookup_field = "name"
    lookup_value_regex = LOOKUP_VALUE
