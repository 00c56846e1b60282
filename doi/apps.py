from django.apps import AppConfig


class DoiConfig(AppConfig):
    name = "doi"
