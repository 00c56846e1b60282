"""ICAT+'s tracking shapes (icat-plus-client: Parcel, Item, Status, Address, TrackingInformation),
camelCase as beamline clients read them. Shapes only: the reads come from shipping.selectors."""

from rest_framework import serializers

from ..models import Address, Item, Parcel, ParcelStatus, Status


class AddressSerializer(serializers.ModelSerializer):
    _id = serializers.CharField(source="pk")
    companyName = serializers.CharField(source="company_name")
    postalCode = serializers.CharField(source="postal_code")
    phoneNumber = serializers.CharField(source="phone_number")

    class Meta:
        model = Address
        fields = ["_id", "name", "companyName", "address", "city", "region", "postalCode", "country", "email"]
        fields += ["phoneNumber"]


class StatusSerializer(serializers.ModelSerializer):
    createdBy = serializers.CharField(source="created_by.username", default="")
    createdByFullName = serializers.CharField(source="created_by_name")
    createdAt = serializers.DateTimeField(source="created")

    class Meta:
        model = ParcelStatus
        fields = ["status", "location", "comment", "createdBy", "createdByFullName", "createdAt"]


def _plan(values: dict) -> list[dict]:
    """ICAT+'s plan: a list of {key, value}."""
    return [{"key": key, "value": value} for key, value in values.items()]


def item_tree(item: Item, children: dict) -> dict:
    """ICAT+'s Item: a container's type is its kind (SPINEPUCK, UNIPUCK...), its samples in content."""
    return {
        "id": str(item.pk),
        "name": item.name,
        "type": item.container_type or item.type,
        "description": item.description,
        "comments": item.comments,
        "sampleId": item.sample_id,
        "sampleContainerPosition": str(item.position) if item.position is not None else None,
        "experimentPlan": _plan(item.experiment_plan),
        "processingPlan": _plan(item.processing_plan),
        "content": [item_tree(child, children) for child in children.get(item.pk, [])],
    }


class ParcelSerializer(serializers.ModelSerializer):
    _id = serializers.CharField(source="pk")
    shipmentId = serializers.CharField(source="shipment_id")
    investigationId = serializers.IntegerField(source="shipment.investigation_id")
    investigationName = serializers.CharField(source="shipment.investigation.name")
    storageConditions = serializers.CharField(source="storage_conditions")
    containsDangerousGoods = serializers.BooleanField(source="contains_dangerous_goods")
    reimbursedCustomsValue = serializers.DecimalField(
        source="customs_value", max_digits=10, decimal_places=2, coerce_to_string=False
    )
    returnInstructions = serializers.CharField(source="return_instructions")
    currentStatus = serializers.CharField(source="status")
    statuses = StatusSerializer(many=True)
    shippingAddress = AddressSerializer(source="shipment.shipping_address")
    returnAddress = AddressSerializer(source="shipment.return_address")
    shippingTrackingInformation = serializers.SerializerMethodField()
    returnTrackingInformation = serializers.SerializerMethodField()
    items = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created")

    class Meta:
        model = Parcel
        fields = ["_id", "shipmentId", "name", "barcode", "investigationId", "investigationName"]
        fields += ["storageConditions", "containsDangerousGoods", "reimbursedCustomsValue", "returnInstructions"]
        fields += ["comments", "status", "currentStatus", "statuses", "shippingAddress", "returnAddress"]
        fields += ["shippingTrackingInformation", "returnTrackingInformation", "items", "createdAt"]

    def get_shippingTrackingInformation(self, parcel) -> dict:
        return {"trackingNumber": parcel.shipping_tracking_number, "forwarder": parcel.shipping_forwarder}

    def get_returnTrackingInformation(self, parcel) -> dict:
        return {"trackingNumber": parcel.return_tracking_number, "forwarder": parcel.return_forwarder}

    def get_items(self, parcel) -> list[dict]:
        children = {}
        for item in parcel.items.all():  # prefetched, in order
            children.setdefault(item.parent_id, []).append(item)
        return [item_tree(item, children) for item in children.get(None, [])]


class StatusChangeSerializer(serializers.Serializer):
    """ICAT+'s ParcelStatus body: the new status, where and why."""

    status = serializers.ChoiceField(choices=Status.choices)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
