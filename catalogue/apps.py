from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"

    def ready(self):
        from . import tallies  # noqa: F401 - connects the signals that keep the dataset tallies
