from django.urls import path

from . import views

urlpatterns = [
    path("", views.technique_list, name="technique-list"),
    path("<slug:code>/", views.technique_detail, name="technique-detail"),
    path("<slug:code>/parameters.<str:fmt>", views.technique_export, name="technique-export"),
]
