"""The PaNOSC search API's routes, mounted at /panosc/ by config/urls.py."""

from django.urls import path

from . import views

app_name = "panosc"

urlpatterns = [
    path("datasets", views.listing, {"resource": "datasets"}, name="datasets"),
    path("datasets/count", views.count, {"resource": "datasets"}, name="datasets-count"),
    path("datasets/<path:pid>", views.detail, {"resource": "datasets"}, name="dataset"),
    path("documents", views.listing, {"resource": "documents"}, name="documents"),
    path("documents/count", views.count, {"resource": "documents"}, name="documents-count"),
    path("documents/<path:pid>", views.detail, {"resource": "documents"}, name="document"),
    path("instruments", views.listing, {"resource": "instruments"}, name="instruments"),
    path("instruments/count", views.count, {"resource": "instruments"}, name="instruments-count"),
    path("instruments/<path:pid>", views.detail, {"resource": "instruments"}, name="instrument"),
]
