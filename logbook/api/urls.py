"""The logbook's API routes, under api/v1/ (config/urls.py), namespace "logbook-api"."""

from django.urls import path

from . import views

app_name = "logbook-api"

urlpatterns = [
    path("logbook/investigations/<int:pk>/events/", views.InvestigationEvents.as_view(), name="investigation-events"),
    path("logbook/events/", views.KeyEvents.as_view(), name="key-events"),
    path("logbook/events/batch/", views.KeyEventsBatch.as_view(), name="key-events-batch"),
    path("logbook/attachments/", views.KeyAttachments.as_view(), name="key-attachments"),
]
