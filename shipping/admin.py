"""The Django admin of shipments: reading and correcting; status changes go through the portal
(shipping.services), so the history stays whole."""

from django.contrib import admin

from .models import Address, Item, Parcel, ParcelStatus, Shipment


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["name", "company_name", "city", "country", "owner", "investigation"]
    search_fields = ["name", "company_name", "city"]
    raw_id_fields = ["owner", "investigation"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["name", "investigation", "created"]
    search_fields = ["name", "investigation__name"]
    raw_id_fields = ["investigation", "shipping_address", "return_address", "created_by"]


class StatusInline(admin.TabularInline):
    model = ParcelStatus
    extra = 0
    can_delete = False
    readonly_fields = ["status", "location", "comment", "created_by_name", "created"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Parcel)
class ParcelAdmin(admin.ModelAdmin):
    list_display = ["name", "barcode", "status", "shipment"]
    list_filter = ["status"]
    search_fields = ["name", "barcode"]
    readonly_fields = ["status"]
    raw_id_fields = ["shipment"]
    inlines = [StatusInline]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "container_type", "position", "parcel"]
    list_filter = ["type"]
    search_fields = ["name"]
    raw_id_fields = ["parcel", "parent", "sample"]
