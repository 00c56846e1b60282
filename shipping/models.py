"""Parcels and sample tracking, after ICAT+'s tracking model: addresses, shipments of an
investigation, their parcels, the items in them (sample sheets, containers, samples with their
plans, tools, hard disks) and each parcel's status history."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from catalogue.models import Investigation, Sample
from techniques.models import Technique


class Address(models.Model):
    """A postal address, reusable by its owner and in its investigation's shipments."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="shipping_addresses"
    )
    investigation = models.ForeignKey(
        Investigation, null=True, blank=True, on_delete=models.CASCADE, related_name="shipping_addresses"
    )
    name = models.CharField(max_length=200, help_text="The person's name")
    company_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(help_text="Street and number, one line each")
    postal_code = models.CharField(max_length=32)
    city = models.CharField(max_length=200)
    region = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=100)
    phone_number = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "addresses"

    def __str__(self):
        return f"{self.name}, {self.company_name or self.city}"

    @property
    def lines(self) -> list[str]:
        """As printed on a label."""
        lines = [self.name, self.company_name, *self.address.splitlines()]
        lines += [f"{self.postal_code} {self.city}".strip(), self.region, self.country.upper()]
        return [line.strip() for line in lines if line and line.strip()]


class Shipment(models.Model):
    """What an investigation sends to the facility, in one or more parcels."""

    investigation = models.ForeignKey(Investigation, on_delete=models.PROTECT, related_name="shipments")
    name = models.CharField(max_length=200)
    shipping_address = models.ForeignKey(
        Address, on_delete=models.PROTECT, related_name="+", help_text="Who sends the parcels"
    )
    return_address = models.ForeignKey(
        Address, on_delete=models.PROTECT, related_name="+", help_text="Where the parcels go back to"
    )
    technique = models.ForeignKey(
        Technique,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Whose plans its samples carry (Technique.plans); empty: free keys and values",
    )
    courier_company = models.CharField(max_length=100, blank=True)
    courier_account = models.CharField(max_length=100, blank=True)
    comments = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["investigation", "-created"])]

    def __str__(self):
        return self.name


class Status(models.TextChoices):
    """ICAT+'s parcel statuses, from creation to return."""

    CREATED = "CREATED", "Created"
    READY = "READY", "Ready"
    APPROVED = "APPROVED", "Approved"
    SENT = "SENT", "Sent"
    STORES = "STORES", "Received at stores"
    BEAMLINE = "BEAMLINE", "At the beamline"
    BACK_STORES = "BACK_STORES", "Back at stores"
    BACK_USER = "BACK_USER", "Returned to the user"
    DESTROYED = "DESTROYED", "Destroyed"


class Parcel(models.Model):
    class StorageConditions(models.TextChoices):
        ROOM = "room temperature", "Room temperature"
        FRIDGE = "4 °C", "Fridge (4 °C)"
        FREEZER = "-20 °C", "Freezer (-20 °C)"
        DEEP_FREEZER = "-80 °C", "Deep freezer (-80 °C)"
        NITROGEN = "liquid nitrogen", "Liquid nitrogen (dry shipper)"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="parcels")
    name = models.CharField(max_length=200)
    barcode = models.CharField(max_length=64, unique=True, help_text="Printed on the label; stores scan it")
    storage_conditions = models.CharField(max_length=32, choices=StorageConditions.choices)
    contains_dangerous_goods = models.BooleanField(default=False)
    customs_value = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="In euros, for the customs papers"
    )
    return_instructions = models.TextField(blank=True)
    comments = models.TextField(blank=True)
    # The last status row's, kept here for lists and filters.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED, db_index=True)
    shipping_forwarder = models.CharField(max_length=100, blank=True)
    shipping_tracking_number = models.CharField(max_length=100, blank=True)
    return_forwarder = models.CharField(max_length=100, blank=True)
    return_tracking_number = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shipment_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["shipment", "name"], name="parcel_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.barcode})"

    def get_absolute_url(self):
        return reverse("shipping:parcel-detail", kwargs={"pk": self.pk})


class ParcelStatus(models.Model):
    """One change of a parcel's status: who, when, where, why. Never edited."""

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="statuses")
    status = models.CharField(max_length=16, choices=Status.choices)
    location = models.CharField(max_length=200, blank=True)
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A person's full name, or the instrument key's name: kept when the account goes.
    created_by_name = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name_plural = "parcel statuses"
        indexes = [models.Index(fields=["parcel", "created"])]

    def __str__(self):
        return f"{self.parcel_id} {self.status} {self.created:%Y-%m-%d %H:%M}"


class Item(models.Model):
    """What a parcel holds, as a tree: containers in sample sheets, samples in containers."""

    class Type(models.TextChoices):
        SAMPLESHEET = "SAMPLESHEET", "Sample sheet"
        CONTAINER = "CONTAINER", "Container"
        SAMPLE = "SAMPLE", "Sample"
        TOOL = "TOOL", "Tool"
        HARDDRIVE = "HARDDRIVE", "Hard disk"
        OTHER = "OTHER", "Other"

    class ContainerType(models.TextChoices):
        SPINEPUCK = "SPINEPUCK", "SPINE puck (10)"
        UNIPUCK = "UNIPUCK", "Unipuck (16)"
        PLATE = "PLATE", "96-well plate"
        GRIDBOX = "GRIDBOX", "Grid box (4)"

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="items")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    type = models.CharField(max_length=16, choices=Type.choices)
    container_type = models.CharField(max_length=16, choices=ContainerType.choices, blank=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    comments = models.TextField(blank=True)
    # The place in its container, from 1 (ICAT+'s sampleContainerPosition).
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    # A sample item is the catalogue's sample of that name in the investigation.
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="shipping_items")
    # Validated against the technique's plans (techniques.validation.validate_plan): {key: value}.
    experiment_plan = models.JSONField(default=dict, blank=True)
    processing_plan = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["parcel_id", "parent_id", "position", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "position"], name="item_unique_position", condition=models.Q(position__isnull=False)
            ),
        ]

    def __str__(self):
        return self.name


# How many samples each kind of container holds.
CAPACITY = {
    Item.ContainerType.SPINEPUCK: 10,
    Item.ContainerType.UNIPUCK: 16,
    Item.ContainerType.PLATE: 96,
    Item.ContainerType.GRIDBOX: 4,
}
