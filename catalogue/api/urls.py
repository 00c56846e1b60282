from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from catalogue.storage import ids
from techniques.api import ParameterTypeViewSet, TechniqueViewSet

from . import views
from .zips import SelectionViewSet

router = DefaultRouter()
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("investigations", views.InvestigationViewSet, basename="investigation")
router.register("samples", views.SampleViewSet, basename="sample")
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("datafiles", views.DatafileViewSet, basename="datafile")
router.register("selection", SelectionViewSet, basename="selection")
router.register("techniques", TechniqueViewSet, basename="technique")
router.register("parameters", ParameterTypeViewSet, basename="parameter")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its script served apart (?script), for the CSP; its page keeps an inline <style>.
    path(
        "docs/",
        csp_update({"style-src": UNSAFE_INLINE})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    # The storage in ICAT IDS's terms (catalogue/storage/ids.py).
    path("ids/getStatus", ids.GetStatus.as_view(), name="ids-get-status"),
    path("ids/getSize", ids.GetSize.as_view(), name="ids-get-size"),
    path("ids/restore", ids.Restore.as_view(), name="ids-restore"),
    path("ids/prepareData", ids.PrepareData.as_view(), name="ids-prepare-data"),
    path("ids/isPrepared", ids.IsPrepared.as_view(), name="ids-is-prepared"),
    path("ids/getData", ids.GetData.as_view(), name="ids-get-data"),
    path("", include(router.urls)),
]
