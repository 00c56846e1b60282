from django.apps import AppConfig


class DoiConfig(AppConfig):
    name = "doi"
    verbose_name = "Publications (DOIs)"

    def ready(self):
        # Registered with Celery, which the services send by name (catalogue/dispatch.py).
        from . import tasks  # noqa: F401
