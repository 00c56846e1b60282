from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("investigations/", views.investigation_list, name="investigation-list"),
    path("investigations/<int:pk>/", views.investigation_detail, name="investigation-detail"),
    path("investigations/<int:pk>/datasets/", views.investigation_datasets, name="investigation-datasets"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/row/", views.dataset_row, name="dataset-row"),
    path("samples/<int:pk>/", views.sample_detail, name="sample-detail"),
    path("search/", views.search, name="search"),
]
