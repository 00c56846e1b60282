from django.urls import path

from .policy import views as policy_views
from .portal import views
from .schedule import views as schedule_views
from .storage import downloads
from .storage import pages as storage_pages
from .storage import views as storage_views

urlpatterns = [
    path("", views.home, name="home"),
    path("investigations/", views.investigation_list, name="investigation-list"),
    path("investigations/<int:pk>/", views.investigation_detail, name="investigation-detail"),
    path("investigations/<int:pk>/datasets/", views.investigation_datasets, name="investigation-datasets"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/images/<int:file_pk>/", views.dataset_image, name="dataset-image"),
    path("datasets/<int:pk>/row/", views.dataset_row, name="dataset-row"),
    path("datasets/<int:pk>/files/<int:file_pk>/download/", downloads.datafile_download, name="datafile-download"),
    path("datasets/<int:pk>/storage/", storage_views.dataset_storage, name="dataset-storage"),
    path("datasets/<int:pk>/archive/", storage_views.dataset_archive, name="dataset-archive"),
    path("storage/restore/", storage_views.storage_restore, name="storage-restore"),
    path("my/requests/", storage_views.my_requests, name="my-requests"),
    path("datasets/<int:pk>/download/", storage_pages.dataset_download, name="dataset-download"),
    path("investigations/<int:pk>/download/", storage_pages.investigation_download, name="investigation-download"),
    path("selection/", storage_pages.selection_page, name="selection"),
    path("selection/download/", storage_pages.selection_download, name="selection-download"),
    path("selection/add/", storage_pages.selection_add, name="selection-add"),
    path("selection/remove/", storage_pages.selection_remove, name="selection-remove"),
    path("selection/clear/", storage_pages.selection_clear, name="selection-clear"),
    path("samples/<int:pk>/", views.sample_detail, name="sample-detail"),
    path("search/", views.search, name="search"),
    path("embargoed/", views.embargoed_list, name="embargoed-list"),
    path("beamlines/<str:name>/", schedule_views.beamline_detail, name="beamline-detail"),
    path("beamlines/<str:name>/calendar.ics", schedule_views.beamline_calendar, name="beamline-calendar"),
    path(
        "investigations/<int:pk>/release-date/",
        policy_views.investigation_release_date,
        name="investigation-release-date",
    ),
]
