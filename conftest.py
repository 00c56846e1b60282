"""Fixtures shared by every app's tests.

- Passwords hash with MD5 (fast).
- Celery tasks run eagerly (in the test process) unless a test is marked ``worker``.
- ``celery_worker_process``: a real Celery worker process on the test database, for tests marked
  ``worker`` (they must use a transactional database so the worker sees committed rows).
- ``browser_page``: a Playwright page in Debian's Chromium, for tests marked ``browser``.

The broker and PostgreSQL come from ``scripts/with-test-services`` (``make test``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

BASE_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = BASE_DIR / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WORKER_START_TIMEOUT = 30  # seconds
WORKER_STOP_TIMEOUT = 15  # seconds


# --- Reports: let fixtures know whether the test failed; attach worker logs and screenshots --------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    if report.when == "call" and report.failed:
        page = getattr(item, "_browser_page", None)
        if page is not None:
            path = _screenshot(page, item)
            if path:
                report.sections.append(("browser screenshot", str(path)))
        log = getattr(item, "_celery_worker_log", None)
        if log is not None:
            report.sections.append(("celery worker log", _read_log(log)))
    return report


def _artifact_name(item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:200]


def _screenshot(page, item) -> Path | None:
    try:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        path = ARTIFACTS_DIR / f"{_artifact_name(item)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    except Exception:  # a screenshot must never hide the real failure
        return None


def _read_log(path: Path, limit: int = 200_000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return text if len(text) <= limit else "...\n" + text[-limit:]


# --- Speed -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """MD5 instead of PBKDF2 (0.3 s a hash here, even for create_user(password=None)).

    A test that needs the real hashers sets ``settings.PASSWORD_HASHERS`` itself.
    """
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _postgresql_only(request):
    """Tests marked ``postgresql`` skip on another database (the SQLite run of ``make test``)."""
    if request.node.get_closest_marker("postgresql"):
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip(f"needs PostgreSQL, not {connection.vendor}")


# --- Celery ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: the API-key throttle counts failed keys per address
    (catalogue/security.py), and one test's failures must not lock the next one out."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Run tasks in-process for every test not marked ``worker``.

    A task queued with ``transaction.on_commit`` then runs when the test executes the on_commit
    callbacks (``django_capture_on_commit_callbacks(execute=True)``, or a real commit in a
    transactional test).
    """
    from config import celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = request.node.get_closest_marker("worker") is None
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker_env(tmp_path) -> dict[str, str]:
    """Extra environment of the worker process; override it in a module or conftest to change it.

    By default the worker's DATA_ROOTS is the test's own ``tmp_path`` (the same folder the test
    gets), and its DATA_FOLDER_PATTERN the test's, because a ``settings`` change in the test
    process does not reach the worker.
    """
    from django.conf import settings

    return {"DATA_ROOTS": str(tmp_path), "DATA_FOLDER_PATTERN": settings.DATA_FOLDER_PATTERN}


@pytest.fixture
def celery_worker_process(request, transactional_db, celery_worker_env, tmp_path_factory):
    """A real Celery worker (``-P solo``) on the test database and the test broker.

    Requests ``transactional_db``: the worker is another process and only sees committed rows.
    Yields the ``subprocess.Popen``; the worker is stopped before the database is flushed. If the
    test fails, its log is shown in the report ("celery worker log").
    """
    from django.conf import settings
    from django.db import connection

    from config import celery_app

    broker = settings.CELERY_BROKER_URL
    if not broker:
        pytest.skip("needs a broker: CELERY_BROKER_URL is unset (run the tests with `make test`)")
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL shared with the worker process, not {connection.vendor} (run `make test`)")

    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    database_url = f"postgres://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"

    name = f"catalogue-test-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "PYTHONUNBUFFERED": "1",
        **celery_worker_env,
    }
    log_path = tmp_path_factory.mktemp("celery-worker") / "worker.log"
    request.node._celery_worker_log = log_path

    celery_app.control.purge()  # nothing left over from an earlier test
    previous_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False

    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-P", "solo", "-c", "1", "-n", name, "--loglevel=INFO", "-Q", f"celery,{settings.STORAGE_RESTORE_QUEUE}",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Celery worker exited with code {process.returncode} at start:\n{_read_log(log_path)}"
                )
            if celery_app.control.ping(destination=[name], timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Celery worker did not answer ping within {WORKER_START_TIMEOUT} s:\n{_read_log(log_path)}"
                )
        yield process
    finally:
        process.terminate()  # warm shutdown: a running task finishes first
        try:
            process.wait(timeout=WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        celery_app.conf.task_always_eager = previous_eager


# --- Browser -----------------------------------------------------------------------------------


@pytest.fixture
def artifacts_dir() -> Path:
    """``test-artifacts/`` at the repository root (gitignored), for screenshots and other outputs."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def browser_page(request):
    """A fresh Playwright page (own browser context) in headless Debian Chromium.

    Use with ``live_server``: ``browser_page.goto(live_server.url + "/")``. On failure a full-page
    screenshot goes to ``test-artifacts/<test id>.png``. Chromium starts and stops with each test.

    Playwright's sync API keeps an event loop running in this thread while the page is open, so
    DJANGO_ALLOW_ASYNC_UNSAFE is set to let the test use the ORM, and Django then gives the
    test's ORM calls their own connection, outside the test's transaction: browser tests need a
    transactional database (``live_server`` brings one), so that all sides see committed rows.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        request.node._browser_page = page
        yield page
        request.node._browser_page = None
        context.close()
        browser.close()
    finally:
        # While Playwright's loop runs, Django keeps this thread's connections in separate,
        # context-local storage: close those before the loop stops, or they leak.
        from django.db import connections

        connections.close_all()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
