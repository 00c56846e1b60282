from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from mozilla_django_oidc.views import OIDCLogoutView

from doi import views as doi_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # Signs out; a session from the OpenID provider is also ended there (catalogue.people.identity).
    path("accounts/logout/", OIDCLogoutView.as_view(), name="logout"),
    # Sign-in with OpenID Connect; always routed, so that tests can switch it on with settings.
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/v1/", include(("catalogue.api.urls", "api"), namespace="api")),
    # The beamline software's parcels and statuses (instrument API key), beside the catalogue's API.
    path("api/v1/", include("shipping.api.urls")),
    # The electronic logbook's API (events, attachments), beside the catalogue's.
    path("api/v1/", include("logbook.api.urls")),
    path("techniques/", include("techniques.urls")),
    path("shipping/", include("shipping.urls")),
    # Publication: DOI landing pages and minting (doi/urls.py), OAI-PMH, the PaNOSC search API.
    path("doi/", include("doi.urls")),
    path("oai", doi_views.oai_pmh, name="oai-pmh"),
    path("panosc/", include("doi.panosc.urls")),
    # The logbook pages (investigations/<pk>/logbook/, beamlines/<name>/logbook/...) and ICAT+'s
    # /dataacquisition/ routes that pyicat-plus posts to.
    path("", include("logbook.urls")),
    path("", include("catalogue.urls")),
]
