from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TechniquesConfig(AppConfig):
    name = "techniques"

    def ready(self):
        from .loading import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self)
