"""The controlled vocabulary. Rows are loaded from the definition files in definitions/."""

from django.db import models


class Technique(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    panet_id = models.CharField("PaNET id", max_length=32, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


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
    # Codes of the definitions a processed dataset of this definition may take as inputs.
    input_definitions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["technique__code", "code"]

    def __str__(self):
        return self.label
