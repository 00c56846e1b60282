"""Shapes only: business rules live in the services (catalogue.ingestion.services for storing)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from catalogue.models import BIGINT_MAX, Datafile, Dataset, Instrument, Investigation, Sample


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
    sample = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    definition = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
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

    def to_representation(self, dataset) -> dict:
        """The declared fields, written out: a list page serializes 50 datasets of 20 fields, and
        DRF's field-by-field walk cost ten times this (test_api compares both on every shape)."""
        tz = timezone.get_current_timezone()
        return {
            "id": dataset.pk,
            "investigation": self.get_investigation(dataset),
            "sample": dataset.sample.name if dataset.sample_id else None,
            "name": dataset.name,
            "location": dataset.location,
            "kind": dataset.kind,
            "definition": dataset.definition.code if dataset.definition_id else None,
            "start_date": _iso(dataset.start_date, tz),
            "end_date": _iso(dataset.end_date, tz),
            "description": dataset.description,
            "parameters": dataset.parameters,
            "inputs": dataset.link_inputs,
            "outputs": dataset.link_outputs,
            "file_count": dataset.file_count,
            "size": dataset.size,
            "storage_status": dataset.storage_status,
            "complete": dataset.complete,
            "warnings": dataset.warnings,
            "created": _iso(dataset.created, tz),
            "modified": _iso(dataset.modified, tz),
        }


def _iso(value, tz) -> str | None:
    """As DRF's DateTimeField writes it (ISO 8601 in the current time zone, UTC as Z)."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class DatasetStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "location", "complete", "file_count", "size", "storage_status", "modified"]


class FacetCountSerializer(serializers.Serializer):
    value = serializers.CharField(
        allow_null=True, help_text="The instrument name or technique code; null: datasets without a definition"
    )
    count = serializers.IntegerField()


class YearCountSerializer(serializers.Serializer):
    value = serializers.IntegerField(
        allow_null=True, help_text="The year of the start date, in the facility's time zone; null: no start date"
    )
    count = serializers.IntegerField()


class DatasetFacetsSerializer(serializers.Serializer):
    """Datasets per value, among those the list gives for the same filters; values without datasets
    are left out."""

    instrument = FacetCountSerializer(many=True, help_text="By instrument name")
    technique = FacetCountSerializer(many=True, help_text="By technique code (that of the dataset's definition)")
    year = YearCountSerializer(many=True, help_text="By start year, the latest first")


# Parameter values are scalars or {"value": ..., "unit": ...}; deeper ones are refused unread.
MAX_PARAMETER_DEPTH = 8


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField takes 123 as "123", which hides a client's mistake."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """JSON integers only: DRF's IntegerField takes "12" and 12.0 too."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return data  # the bounds are the field's validators


def _printable(text: str) -> str:
    """The text with its unprintable characters escaped (\\x00, \\ud800), to name it in an error."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _text_problem(text: str) -> str:
    """Why the database or a JSON answer cannot hold this text; '' when they can."""
    if "\x00" in text:
        return "contains a NUL character"  # PostgreSQL refuses NUL in text
    try:
        text.encode()
    except UnicodeEncodeError as exc:  # "\ud800" in JSON: a lone surrogate, which UTF-8 cannot write
        return f"not text: a lone surrogate ({_printable(text[exc.start])})"
    return ""


def _value_problem(value, depth: int = 0) -> str:
    """_text_problem of every string in a parameter's value; also refuses deep nesting."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, dict | list):
        if depth >= MAX_PARAMETER_DEPTH:
            return "nested too deeply"
        for item in [*value, *value.values()] if isinstance(value, dict) else value:
            if problem := _value_problem(item, depth + 1):
                return problem
    return ""


class FileItemSerializer(serializers.Serializer):
    path = StrictCharField(max_length=1024)
    size = StrictIntegerField(min_value=0, max_value=BIGINT_MAX, required=False, default=0)
    checksum = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    modified = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_path(self, value):
        if value.startswith("/") or ".." in value.split("/"):
            raise serializers.ValidationError("must be relative to the dataset location, without '..'")
        return value


_MODIFIED = FileItemSerializer().fields["modified"]


def _plain_file(item) -> dict | None:
    """The item as FileItemSerializer reads it (modified in ISO 8601), when it has the plain shape
    that instruments send: text without surrounding blanks or control characters, a non-negative
    integer size. None otherwise."""
    if type(item) is not dict:
        return None
    path, size, checksum, modified = (
        item.get("path"),
        item.get("size", 0),
        item.get("checksum", ""),
        item.get("modified"),
    )
    if not (type(path) is str and 0 < len(path) <= 1024 and path.isprintable() and path.strip() == path):
        return None
    if path[0] == "/" or ".." in path.split("/") or type(size) is not int or not 0 <= size <= BIGINT_MAX:
        return None
    if not (type(checksum) is str and len(checksum) <= 128 and checksum.isprintable() and checksum.strip() == checksum):
        return None
    if modified is not None:
        try:
            modified = _MODIFIED.to_internal_value(modified).isoformat()
        except serializers.ValidationError:
            return None
    return {"path": path, "size": size, "checksum": checksum, "modified": modified}


@extend_schema_field(FileItemSerializer(many=True))
class FileListField(serializers.Field):
    """A list of FileItemSerializer items, read with plain checks: a serializer per file cost 8 ms
    for 100 files, most of an ingestion request. A list not all of the plain shape goes through
    FileItemSerializer(many=True), which gives the same values and the errors by index and field.
    Returns the files as the worker's task takes them (JSON: modified in ISO 8601)."""

    def to_internal_value(self, data):
        files = [_plain_file(item) for item in data] if isinstance(data, list) else [None]
        if None in files:
            files = [
                {**item, "modified": item["modified"] and item["modified"].isoformat()}
                for item in FileItemSerializer(many=True).run_validation(data)
            ]
        if sum(item["size"] for item in files) > BIGINT_MAX:
            raise serializers.ValidationError(f"the sizes add up to more than {BIGINT_MAX} bytes")
        return files

    def to_representation(self, value):
        return value


class ParametersField(serializers.DictField):
    """A DictField that takes the values as sent, for techniques.validation to check: DictField ran
    its child field, which accepts anything, on each of them (60 calls a dataset)."""

    def run_child_validation(self, data):
        problems = {}
        for key, value in data.items():
            if problem := _text_problem(str(key)) or _value_problem(value):
                problems[_printable(str(key))] = problem
        if problems:
            raise serializers.ValidationError(problems)
        return {str(key): value for key, value in data.items()}


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class InputReferenceField(serializers.Field):
    """An earlier dataset, by location (string) or id (integer)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)) or data == "":
            raise serializers.ValidationError("give a dataset location or id")
        if isinstance(data, int) and not 0 < data <= BIGINT_MAX:
            raise serializers.ValidationError(f"no dataset has the id {data}")
        if isinstance(data, str) and (problem := _text_problem(data)):
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value):
        return value


class DatasetStoreSerializer(serializers.Serializer):
    """The generic storeDataset contract."""

    proposal = StrictCharField(required=False, allow_blank=True, default="", help_text="e.g. MX-2485")
    visit_id = StrictCharField(required=False, allow_blank=True, default="")
    instrument = StrictCharField(
        required=False, allow_blank=True, default="", help_text="With time, finds the running session"
    )
    time = serializers.DateTimeField(required=False, allow_null=True, default=None)
    sample = StrictCharField(required=False, allow_blank=True, default="", max_length=200)
    name = StrictCharField(max_length=255)
    location = StrictCharField(max_length=1024)
    kind = serializers.ChoiceField(choices=Dataset.Kind.choices, default=Dataset.Kind.RAW)
    definition = StrictCharField(required=False, allow_blank=True, default="")
    description = StrictCharField(required=False, allow_blank=True, default="")
    start_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    end_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    parameters = ParametersField(required=False, default=dict)
    inputs = serializers.ListField(child=InputReferenceField(), required=False, default=list)
    files = FileListField(required=False, allow_null=True, default=None)

    def readable_data(self) -> dict:
        """After is_valid() failed: the values of the fields that passed, the others at their
        defaults ("" when required), for the service to check what it still can (one validation
        pass reports every problem)."""
        values = {}
        for name, field in self.fields.items():
            if name in self.errors:
                values[name] = "" if field.default is empty else field.get_default()
            else:
                values[name] = field.run_validation(field.get_value(self.initial_data))
        return values


# The most datasets one batch (POST /api/v1/datasets/batch/) stores.
BATCH_MAX_DATASETS = 500


class DatasetBatchSerializer(serializers.Serializer):
    """The batch store's body; for the schema: DatasetViewSet.batch reads each item on its own, so
    that one bad item gets its own answer instead of refusing the batch."""

    datasets = serializers.ListField(
        child=DatasetStoreSerializer(),
        max_length=BATCH_MAX_DATASETS,
        help_text=f"Up to {BATCH_MAX_DATASETS} datasets, each the body of POST /api/v1/datasets/.",
    )


class DatasetBatchItemSerializer(serializers.Serializer):
    """One dataset's answer in a batch, at the index it was sent at."""

    index = serializers.IntegerField(min_value=0, help_text="Its place in the request's list, from 0.")
    # Not a ChoiceField: its enum would take the name StatusEnum from the shipping API's status.
    status = serializers.IntegerField(
        help_text="201 stored, 200 updated (same location), 400 refused: nothing written."
    )
    dataset = DatasetSerializer(
        required=False, help_text="The stored dataset (201, 200), as the single store answers it."
    )
    detail = serializers.CharField(required=False, help_text="What went wrong (400).")
    errors = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Every bad field, with the reason (400)."
    )


class DatasetBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(min_value=0)
    updated = serializers.IntegerField(min_value=0)
    refused = serializers.IntegerField(min_value=0)
    results = DatasetBatchItemSerializer(many=True, help_text="One per dataset sent, in the request's order.")


class DatafileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Datafile
        fields = ["id", "dataset", "path", "size", "checksum", "modified"]
