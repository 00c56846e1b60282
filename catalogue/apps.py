from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"

    def ready(self):
        # security: its checks; tallies: the signals that keep the counts; tasks: registered with
        # Celery, which the services send by name (catalogue/dispatch.py).
        from . import security, tallies, tasks  # noqa: F401
        from .storage import selection  # noqa: F401  (keeps the selection's count at sign-in)
