from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"

    def ready(self):
        from . import security, tallies  # noqa: F401 - security: its checks; tallies: the signals that keep the counts
