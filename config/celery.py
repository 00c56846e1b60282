import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("catalogue")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(sender, **kwargs):
    """Around each task of a worker as around a web request: close the connections that are broken
    or older than CONN_MAX_AGE; the worker keeps the others (settings.CELERY_DB_REUSE_MAX). An eager
    task runs inside its caller's request or transaction, whose connection it leaves alone."""
    if not sender.request.is_eager:
        close_old_connections()
