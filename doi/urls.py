"""Publication routes under /doi/ (config/urls.py also routes /oai to views.oai_pmh)."""

from django.urls import path, re_path

from . import views

app_name = "doi"

DOI = r"(?P<prefix>10\.[0-9]{4,9})/(?P<suffix>[A-Za-z0-9._;()\-]+)"

urlpatterns = [
    path("", views.my_dois, name="mine"),
    path("mint/selection/", views.mint_selection, name="mint-selection"),
    path("mint/investigation/<int:pk>/", views.mint_investigation, name="mint-investigation"),
    path("manage/<int:pk>/", views.manage, name="manage"),
    re_path(rf"^{DOI}/$", views.landing, name="landing"),
    re_path(rf"^{DOI}/export/(?P<fmt>[a-z-]+)/$", views.export, name="export"),
]
