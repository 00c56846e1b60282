from django.urls import path

from . import views

app_name = "tracking"
urlpatterns = [
    path("tracking/parcels/", views.ParcelListView.as_view(), name="parcel-list"),
    path("tracking/parcels/<int:pk>/", views.ParcelDetailView.as_view(), name="parcel-detail"),
    path("tracking/parcels/<int:pk>/status/", views.ParcelStatusView.as_view(), name="parcel-status"),
]
