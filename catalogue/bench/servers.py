"""The servers the benchmark measures through HTTP: gunicorn with the production settings and, with
a broker, a Celery worker, both on the benchmark's database, started and stopped around it."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import requests
from celery import current_app
from django.conf import settings
from django.db import connection

SERVER_START_TIMEOUT = 30  # seconds


class BenchmarkError(Exception):
    pass


@contextmanager
def servers():
    """gunicorn on a free loopback port and, with a broker, a Celery worker, both on this database
    and with the production settings (config/gunicorn.py; the worker's pool and concurrency in
    config/settings.py).

    Yields gunicorn's URL and, when a worker runs, the scratch data root for the locations of (1).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"]
    gunicorn += ["-b", f"127.0.0.1:{port}"]
    name = f"benchmark-{uuid.uuid4().hex[:8]}@localhost"
    worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name]
    worker += ["--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel=WARNING"]
    with tempfile.TemporaryDirectory() as data_root:
        env = {"DATA_ROOTS": data_root, "DATA_FOLDER_PATTERN": settings.DATA_FOLDER_PATTERN}
        with process(gunicorn, env, lambda: answers(url)):
            if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker: the tasks would run in gunicorn
                yield url, None
                return
            with process(worker, env, lambda: current_app.control.ping(destination=[name], timeout=0.5)):
                yield url, data_root


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting
        return False


@contextmanager
def process(command: list[str], env: dict, ready: Callable[[], bool]):
    """A server process on this database, started and waited for; stopped on the way out."""
    env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url()}
    with tempfile.TemporaryDirectory() as directory:
        log_path = Path(directory) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not ready():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkError(f"{' '.join(command)} did not start:\n{log_path.read_text()[-5000:]}")
                time.sleep(0.2)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=SERVER_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def database_url() -> str:
    """The database this process uses (the test database under pytest), as DATABASE_URL."""
    db = connection.settings_dict
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{quote(db['HOST'] or '', safe='')}{port}/{quote(db['NAME'], safe='')}"
