"""The controlled vocabulary. Rows are loaded from the definition files in definitions/."""

from django.db import models

from .ontology import panet_label


class Technique(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    panet_id = models.CharField("PaNET id", max_length=32, blank=True)
    # How the portal shows the technique: the columns of an investigation's dataset table.
    views = models.JSONField(default=dict, blank=True)
    # The keys of its samples' experiment and processing plans (shipping): {"experiment": [...], ...}.
    plans = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def panet_label(self) -> str:
        """The PaNET term's label, e.g. 'macromolecular crystallography' for PaNET01164."""
        return panet_label(self.panet_id)


class ParameterType(models.Model):
    class ValueType(models.TextChoices):
        NUMERIC = "numeric"
        STRING = "string"
        DATETIME = "datetime"
        BOOLEAN = "boolean"

    name = models.CharField(max_length=128, unique=True)
    label = models.CharField(max_length=200)
    # A pint unit expression; empty for dimensionless values and strings.
    unit = models.CharField(max_length=64, blank=True)
    value_type = models.CharField(max_length=16, choices=ValueType.choices)
    description = models.TextField(blank=True)
    # Null for the instrument and sample parameters that every technique shares.
    technique = models.ForeignKey(
        Technique, null=True, blank=True, on_delete=models.PROTECT, related_name="parameter_types"
    )
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    permitted_values = models.JSONField(default=list, blank=True)
    nexus_path = models.CharField("NeXus path", max_length=255, blank=True)
    # Searchable parameters are also copied to the typed table behind range filters and facets.
    searchable = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DatasetDefinition(models.Model):
    """What kind of dataset a row is: MX oscillation, MX integration, cryo-ET tilt series..."""

    class Kind(models.TextChoices):
        RAW = "raw"
        PROCESSED = "processed"

    code = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="definitions")
    # Parameter names shown when a dataset row is expanded, in this order.
    summary = models.JSONField(default=list, blank=True)
    # Parameter names a dataset of this definition is expected to carry, and must carry.
    expects = models.JSONField(default=list, blank=True)
    requires = models.JSONField(default=list, blank=True)
    # Codes of the definitions a processed dataset of this definition may take as inputs, and how many.
    input_definitions = models.JSONField(default=list, blank=True)
    input_min = models.PositiveSmallIntegerField(null=True, blank=True)
    input_max = models.PositiveSmallIntegerField(null=True, blank=True)
    # How the portal shows such a dataset: tabs, result tables, gallery files.
    views = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["technique__code", "code"]

    def __str__(self):
        return self.label


class VocabularyVersion(models.Model):
    """One row: a token that changes with every write to the parameter types and definitions.

    Processes cache the vocabulary (techniques.vocabulary) and re-read it when the token differs.
    The token is written by those writes' post_save and post_delete signals, in their transaction:
    write the vocabulary through save() and delete() (as sync_definitions and the admin do), never
    QuerySet.update(), which sends no signal.
    """

    token = models.UUIDField()

    def __str__(self):
        return str(self.token)
