import gc
import logging
import os
from importlib import import_module

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Do now what a process's first request would pay for: import the URLconf (the OIDC client and
    the API schema come with it) and the tasks, connect to the database and to the broker. A cold
    gunicorn worker answered its first ingestion in 350 ms instead of 15 (docs/benchmarks.md).
    config/gunicorn.py runs it in each worker before it serves; should a connection fail, the first
    request makes it. Then it freezes what start-up made (modules, URLconf, the unit registry...):
    the garbage collector's full passes skip those objects from then on (a pass over about 137,000
    of them took 62 ms, in about one page request in twenty; 3 ms once frozen)."""
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    import_module(settings.ROOT_URLCONF)
    app.loader.import_default_modules()
    try:
        connection.ensure_connection()
        if not app.conf.task_always_eager:
            with app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=1)
    except Exception:  # a warm-up must not stop the worker
        logger.warning("Warm-up incomplete: the first request will connect.", exc_info=True)
    gc.collect()
    gc.freeze()
