from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class TechniquesConfig(AppConfig):
    name = "techniques"

    def ready(self):
        from .loading import sync_after_migrate
        from .models import DatasetDefinition, ParameterType
        from .vocabulary import vocabulary_changed

        post_migrate.connect(sync_after_migrate, sender=self)
        for model in (ParameterType, DatasetDefinition):
            for signal in (post_save, post_delete):
                signal.connect(vocabulary_changed, sender=model, dispatch_uid=f"vocabulary_changed_{model.__name__}")
