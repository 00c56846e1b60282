"""gunicorn's settings, in production and in the benchmarks alike (command-line options win):

    gunicorn -c python:config.gunicorn config.wsgi

Sync workers, 2 x CPUs + 1 as gunicorn advises (or WEB_CONCURRENCY). Measured on 2 cores with
ingestion (docs/benchmarks.md): threads lost to the GIL (gthread 2 x 4 and 3 x 2), 2 or 3 sync
workers were no faster than 5. The application is imported once, before the workers fork; each
worker then warms up (config.wsgi.warm_up) before it takes a request.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
preload_app = True
# A sync worker streaming a response cannot tell the master it is alive, and is killed after
# `timeout` seconds: this bounds a download's duration (a single file goes out through the web
# server with DOWNLOAD_SENDFILE; a ZIP is streamed by the worker). Above DOWNLOAD_BULK_THRESHOLD
# the portal points to the bulk tool.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 3600))


def post_worker_init(worker):
    from config.wsgi import warm_up

    warm_up()
