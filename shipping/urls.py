from django.urls import path

from . import views

app_name = "shipping"
urlpatterns = [
    path("", views.shipment_list, name="shipment-list"),
    path("new/", views.shipment_create, name="shipment-create"),
    path("addresses/new/", views.address_create, name="address-create"),
    path("<int:pk>/", views.shipment_detail, name="shipment-detail"),
    path("parcels/<int:pk>/", views.parcel_detail, name="parcel-detail"),
    path("parcels/<int:pk>/labels.pdf", views.parcel_labels, name="parcel-labels"),
    path("parcels/<int:pk>/status/", views.parcel_status, name="parcel-status"),
    path("parcels/<int:pk>/items/", views.item_create, name="item-create"),
    path("parcels/<int:pk>/items/<int:item_pk>/delete/", views.item_delete, name="item-delete"),
    path("parcels/<int:pk>/samplesheet/", views.samplesheet_import, name="samplesheet-import"),
    path("stores/", views.stores, name="stores"),
    path("statistics/", views.statistics, name="statistics"),
    path("samples/<int:pk>/", views.sample_tracking, name="sample-tracking"),
]
