"""The logbook's portal routes, and ICAT+'s data-acquisition routes at the portal's root (where
pyicat-plus, given the portal's address as its ICAT+ URL, posts)."""

from django.urls import path

from . import views
from .api import views as api_views

app_name = "logbook"

urlpatterns = [
    path("investigations/<int:pk>/logbook/", views.investigation_logbook, name="investigation"),
    path("beamlines/<str:name>/logbook/", views.beamline_logbook, name="beamline"),
    path("logbook/broadcasts/", views.broadcasts, name="broadcasts"),
    path("logbook/search/", views.search, name="search"),
    path("logbook/events/<int:pk>/edit/", views.event_edit, name="event-edit"),
    path("logbook/events/<int:pk>/history/", views.event_history, name="event-history"),
    path("logbook/events/<int:pk>/remove/", views.event_remove, name="event-remove"),
    path("logbook/events/<int:pk>/restore/", views.event_restore, name="event-restore"),
    path("logbook/attachments/<int:pk>/", views.attachment, name="attachment"),
    path("logbook/attachments/<int:pk>/thumbnail/", views.attachment_thumbnail, name="attachment-thumbnail"),
    path(
        "dataacquisition/<str:api_key>/notification",
        api_views.DataAcquisitionNotification.as_view(),
        name="dataacquisition-notification",
    ),
    path(
        "dataacquisition/<str:api_key>/base64", api_views.DataAcquisitionBase64.as_view(), name="dataacquisition-base64"
    ),
]
