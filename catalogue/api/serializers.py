"""Shapes only: business rules live in catalogue.services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.models import Datafile, Dataset, Instrument, Investigation, Sample


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ["id", "name", "full_name", "description"]


class InvestigationSerializer(serializers.ModelSerializer):
    instrument = serializers.SlugRelatedField(slug_field="name", read_only=True)
    proposal = serializers.CharField(source="name")
    dataset_count = serializers.IntegerField(read_only=True)
    volume = serializers.IntegerField(read_only=True)

    class Meta:
        model = Investigation
        fields = [
            "id",
            "proposal",
            "visit_id",
            "title",
            "summary",
            "instrument",
            "start_date",
            "end_date",
            "release_date",
            "doi",
            "dataset_count",
            "volume",
        ]


class SampleSerializer(serializers.ModelSerializer):
    dataset_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Sample
        fields = ["id", "investigation", "name", "description", "parameters", "dataset_count"]


class DatasetSerializer(serializers.ModelSerializer):
    investigation = serializers.SerializerMethodField()
    sample = serializers.SlugRelatedField(slug_field="name", read_only=True)
    definition = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # Set by DatasetViewSet: only the links the caller may read.
    inputs = serializers.ListField(child=serializers.IntegerField(), source="link_inputs", read_only=True)
    outputs = serializers.ListField(child=serializers.IntegerField(), source="link_outputs", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "investigation",
            "sample",
            "name",
            "location",
            "kind",
            "definition",
            "start_date",
            "end_date",
            "description",
            "parameters",
            "inputs",
            "outputs",
            "file_count",
            "size",
            "storage_status",
            "complete",
            "warnings",
            "created",
            "modified",
        ]

    def get_investigation(self, dataset) -> dict:
        investigation = dataset.investigation
        return {"id": investigation.pk, "proposal": investigation.name, "visit_id": investigation.visit_id}


class DatasetStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "location", "complete", "file_count", "size", "storage_status", "modified"]


class FileItemSerializer(serializers.Serializer):
    path = serializers.CharField(max_length=1024)
    size = serializers.IntegerField(min_value=0, required=False, default=0)
    checksum = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    modified = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_path(self, value):
        if value.startswith("/") or ".." in value.split("/"):
            raise serializers.ValidationError("must be relative to the dataset location, without '..'")
        return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class InputReferenceField(serializers.Field):
    """An earlier dataset, by location (string) or id (integer)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)) or data == "":
            raise serializers.ValidationError("give a dataset location or id")
        return data

    def to_representation(self, value):
        return value


class DatasetStoreSerializer(serializers.Serializer):
    """The generic storeDataset contract."""

    proposal = serializers.CharField(required=False, allow_blank=True, default="", help_text="e.g. MX-2485")
    visit_id = serializers.CharField(required=False, allow_blank=True, default="")
    instrument = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="With time, finds the running session"
    )
    time = serializers.DateTimeField(required=False, allow_null=True, default=None)
    sample = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    name = serializers.CharField(max_length=255)
    location = serializers.CharField(max_length=1024)
    kind = serializers.ChoiceField(choices=Dataset.Kind.choices, default=Dataset.Kind.RAW)
    definition = serializers.CharField(required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    start_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    end_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    parameters = serializers.DictField(required=False, default=dict)
    inputs = serializers.ListField(child=InputReferenceField(), required=False, default=list)
    files = FileItemSerializer(many=True, required=False, allow_null=True, default=None)


class DatafileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Datafile
        fields = ["id", "dataset", "path", "size", "checksum", "modified"]
