"""The benchmarks of the catalogue at facility scale (manage.py benchmark), on a generated catalogue.

Item 8 (catalogue/bench/storage.py), downloads and restores, needs no generated catalogue.

Each figure is the median and the 95th percentile (nearest rank) of `repeat` timed runs after one
warm-up run, the two sides of a ratio taking turns; the query count is that of the last run. Pages
are timed in the server: Django's test client through the whole middleware stack and the
templates, without a network. Ingestion (1) and the concurrent API (7) go through gunicorn on
loopback, with a real Celery worker for (1); without a broker (1) is reported as not measured,
never with a number."""

import cProfile
import gc
import itertools
import math
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.base import BaseHandler
from django.db import connection, transaction
from django.db.models import Count
from django.template.backends import django as django_backend
from django.template.backends import jinja2 as jinja2_backend
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalogue import locations
from catalogue.ingestion.registration import datafiles_register
from catalogue.models import Datafile, Dataset, DatasetTally, Investigation, ParameterValue
from catalogue.people.services import api_key_create
from catalogue.portal.views import DATASETS_PER_PAGE
from config import gunicorn as gunicorn_config
from techniques.models import DatasetDefinition, ParameterType

from . import memory, storage
from .servers import SERVER_START_TIMEOUT, BenchmarkError, servers
from .synthetic import BENCH_ADMIN, BENCH_USER

REGISTRATION_FILES = 10_000  # rows registered per run of (2)
PAGE_TARGET = "<= 20 ms and <= 5x its own SQL"  # (3), issue 17 decision 2
SEARCH_URL = "/api/v1/datasets/?parameter=MX_resolution&parameter_max=1.5"
FACETS_URL = "/api/v1/datasets/facets/"
DEEP_PAGE = 100  # of (3); an investigation with fewer pages gives its last one
NOT_MEASURED = "not yet measured"
CONCURRENT_CLIENTS = 50
INGESTION_CLIENTS = (1, 8)
INGESTION_DATASETS = 16  # stored per run of (1), shared out among the clients
INGESTION_BATCH_DATASETS = 500  # stored per run of (1)'s batch item: one full batch, from one client
INGESTION_PARAMETERS = 60
INGESTION_FILES = 100
INGESTION_DEFINITION = "MX_OSCILLATION"
STORE_RUNS = 40  # stores timed at least by 1_store_server_time: a median of 5 would be noise
MEMORY_REQUESTS = 10_000  # of (9), after its warm-up
GUNICORN_WORKERS = gunicorn_config.workers  # the servers run with the production settings


@dataclass
class Result:
    title: str
    target: str  # at the large scale (issue 5)
    unit: str = "ms"
    median: float | None = None
    p95: float | None = None  # for a rate: the rate of the 95th-percentile (slow) run
    queries: int | None = None
    ratio: float | None = None
    ratio_to: str = ""
    throughput: float | None = None  # per second, of the items with concurrent clients
    note: str = ""
    breakdown: dict | None = None  # of the pages of (3): where a request's time goes (_page_breakdown)


ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8", "9")


def run(*, repeat: int, only: tuple[str, ...] = ITEMS) -> dict:
    """Every item, or only those numbered in `only` (6 also measures 3 and 5: its ratios need them)."""
    if "6" in only:
        only = (*only, "3", "5")
    results = {f"{key}": value for key, value in storage.run(repeat, Result).items()} if "8" in only else {}
    if set(only) == {"8"}:  # needs no generated catalogue
        return _report(results, repeat, None)
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[BENCH_USER, BENCH_ADMIN])}
    # The bench investigation has the most datasets; the big dataset the most files.
    investigation = Investigation.objects.annotate(n=Count("datasets")).order_by("-n").first()
    big = Dataset.objects.order_by("-file_count").first()
    if len(users) < 2 or big is None:
        raise BenchmarkError("no synthetic catalogue here: run manage.py generate_catalogue first")
    admin, person = users[BENCH_ADMIN], users[BENCH_USER]
    clients = {admin: _client(admin), person: _client(person)}

    pages = math.ceil(investigation.n / DATASETS_PER_PAGE)
    deep = min(DEEP_PAGE, pages)
    investigation_url = reverse("investigation-detail", args=[investigation.pk])
    # The lists of (3) and (5), measured for the admin and, in turn with it, for the bench user (6).
    lists: dict[str, tuple[str, str, Callable[[object], Callable]]] = {
        "3_investigation_page_1": (
            f"Investigation page, {investigation.n:,} datasets: page 1",
            PAGE_TARGET,
            lambda user: _get(clients[user], investigation_url),
        ),
        f"3_investigation_page_{DEEP_PAGE}": (
            f"Investigation page, {investigation.n:,} datasets: page {deep} of {pages}",
            PAGE_TARGET,
            lambda user: _get(clients[user], f"{investigation_url}?page={deep}"),
        ),
        "5_parameter_search": (
            "Parameter range search: MX_resolution <= 1.5 A, dataset API",
            "<= 200 ms",
            lambda user: _get(clients[user], SEARCH_URL),
        ),
        "5_facets": (
            "Facet counts: datasets per instrument, technique and year, dataset API",
            "<= 200 ms",
            lambda user: _get(clients[user], FACETS_URL),
        ),
    }
    lists = {key: item for key, item in lists.items() if key[0] in only}
    if "2" in only:
        results["2_datafile_registration"] = _registration(investigation, repeat)
    for key, (title, target, fetch) in lists.items():
        # A ratio's two sides are measured in turn: the page and its own SQL, the admin and the user.
        turns = {key: (title, target, fetch(admin))}
        if key.startswith("3_"):
            statements = _own_sql(fetch(admin))
            turns["sql"] = ("", "", _replay(statements))
        if "6" in only:
            turns[f"6_{key[2:]}_user"] = (f"{title}, as {BENCH_USER}", "<= 1.5x the admin's", fetch(person))
        measured = dict(zip(turns, _measure_in_turn(list(turns.values()), repeat), strict=True))
        result = results[key] = measured.pop(key)
        if own := measured.pop("sql", None):
            result.ratio = result.median / own.median
            result.ratio_to = f"its own SQL ({len(statements)} statements), {own.median:.2f} ms"
            result.breakdown = _page_breakdown(fetch(admin), turns["sql"][2], repeat)
        for user_key, user_result in measured.items():
            user_result.ratio, user_result.ratio_to = user_result.median / result.median, BENCH_ADMIN
            results[user_key] = user_result
    if "4" in only:
        results["4_dataset_page"] = _measure(
            f"Dataset page, {big.file_count:,} files", "<= 100 ms", _get(clients[admin], big.get_absolute_url()), repeat
        )
    if "1" in only:
        results["1_store_server_time"] = _store_server_time(investigation, repeat)
    if "1" in only or "7" in only or "9" in only:
        with servers() as (url, worker):
            for count in INGESTION_CLIENTS if "1" in only else ():
                key = f"1_ingestion_api_{count}_client{'s' if count > 1 else ''}"
                if worker:
                    results[key] = _ingestion(url, Path(worker), investigation, count, repeat)
                else:
                    results[key] = Result(_ingestion_title(count), ">= 100 datasets/s", "datasets/s", note=NOT_MEASURED)
            if "1" in only:
                key = "1_ingestion_api_batch_1_client"
                if worker:
                    results[key] = _ingestion(url, Path(worker), investigation, 1, repeat, batch=True)
                else:
                    results[key] = Result(
                        _ingestion_title(1, True), ">= 500 datasets/s", "datasets/s", note=NOT_MEASURED
                    )
            if "7" in only:
                results["7_dataset_list_api_50_clients"] = _concurrent_api(url, clients[admin], repeat)
            if "9" in only:
                cookies = {settings.SESSION_COOKIE_NAME: clients[admin].cookies[settings.SESSION_COOKIE_NAME].value}
                paths = ["/", investigation_url, f"{investigation_url}?page={deep}", big.get_absolute_url()]
                paths += ["/api/v1/datasets/", SEARCH_URL, FACETS_URL, f"/api/v1/datasets/{big.pk}/"]
                results.update(memory.run(url, cookies, paths, Result, MEMORY_REQUESTS))
    if "1" in only or "2" in only:
        _vacuum_written_tables()
    return _report(results, repeat, person)


def _report(results: dict, repeat: int, person) -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "postgresql": connection.pg_version,
        "catalogue": _catalogue_size(),
        "bench_user_investigations": person.investigation_roles.count() if person else None,
        "repeat": repeat,
        "results": {key: asdict(result) for key, result in sorted(results.items())},
    }


# --- Measuring ---------------------------------------------------------------------------------


def _measure(title: str, target: str, fetch: Callable, repeat: int) -> Result:
    return _measure_in_turn([(title, target, fetch)], repeat)[0]


def _measure_in_turn(items: list[tuple[str, str, Callable]], repeat: int) -> list[Result]:
    """Each (title, target, fetch) timed `repeat` times after one warm-up, taking turns (a, b, a, b...):
    a ratio between two of them compares runs made moments apart, on a machine whose speed drifts
    by tens of per cent within minutes (measured one after the other, a ratio of 1.0 read 1.8)."""
    for _, _, fetch in items:
        fetch()  # warm-up: connections, templates, PostgreSQL's buffers
    # Warm, like a server's worker (config.wsgi.warm_up): what exists now is frozen, out of the
    # garbage collector's full passes, and thawed again after the runs.
    gc.collect()
    gc.freeze()
    times: list[list[float]] = [[] for _ in items]
    queries = [0] * len(items)
    try:
        for _ in range(repeat):
            for i, (_, _, fetch) in enumerate(items):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    fetch()
                    times[i].append((time.perf_counter() - started) * 1000)
                queries[i] = len(captured)
    finally:
        gc.unfreeze()
    return [
        Result(title, target, median=statistics.median(t), p95=_p95(t), queries=q)
        for (title, target, _), t, q in zip(items, times, queries, strict=True)
    ]


def _p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]


def _client(user) -> Client:
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _get(client: Client, url: str) -> Callable:
    def fetch():
        response = client.get(url)
        if response.status_code != 200:
            raise BenchmarkError(f"GET {url} answered {response.status_code}")

    return fetch


# --- The pages of (3): their own SQL, and where the rest of a request goes ------------------------


def _own_sql(fetch: Callable) -> list[str]:
    """The statements one request of the page runs, as sent (parameters bound), captured after a
    first request (the session and the connection warm): the page's own SQL, to replay alone."""
    fetch()
    with CaptureQueriesContext(connection) as captured:
        fetch()
    return [query["sql"] for query in captured.captured_queries]


def _replay(statements: list[str]) -> Callable:
    """The page's statements alone, in the same order through one cursor, their rows fetched: the
    database's and the driver's part of the page, without Django's ORM, forms or templates."""

    def fetch():
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)  # no parameters: the statement is sent as it is
                if cursor.description is not None:
                    cursor.fetchall()

    return fetch


def _timed(function: Callable, label: str, spans: list) -> Callable:
    """function, appending (label, start, end) to spans at each call."""

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spans.append((label, started, time.perf_counter()))

    return timed


def _spans(owner, name: str, label: str, spans: list):
    """Patches owner.name to append (label, start, end) to spans at each call."""
    return _patched(owner, name, _timed(getattr(owner, name), label, spans))


def _timed_view(spans: list):
    """BaseHandler.make_view_atomic wraps every view before the handler calls it: here it also
    times the view (from the call until it returns its response, its templates rendered)."""
    original = BaseHandler.make_view_atomic
    return _patched(
        BaseHandler, "make_view_atomic", lambda handler, view: _timed(original(handler, view), "view", spans)
    )


@contextmanager
def _patched(owner, name: str, value):
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


# The breakdown's parts, which add up to the request's time (ms, medians over the runs).
BREAKDOWN_PARTS = {
    "sql_ms": "the page's statements, in the driver's execute (all of them, wherever they ran)",
    "templates_ms": "rendering the page's templates (Django's base and the Jinja2 content), less the SQL they ran",
    "view_ms": "the view's own Python outside its templates and SQL: forms, filter, ORM, pagination",
    "outside_view_ms": "outside the view: middleware (sessions, auth, CSRF, CSP, axes), URL resolution, "
    "the test client",
}


def _page_breakdown(fetch: Callable, replay: Callable, repeat: int) -> dict:
    """Where a request of the page goes, from one pass of `repeat` requests with timers on the view
    (BaseHandler.make_view_atomic), the template backends' render (Django's page, the Jinja2 content
    inside it) and every statement (connection.execute_wrapper): the medians of sql_ms,
    templates_ms (of which jinja2_ms), view_ms and outside_view_ms, which add up to total_ms (each
    part's median is taken on its own, so the medians add up to about total_ms). In turn with each
    request, its statements replayed alone (own_sql_ms), so that both are measured in the same
    moments as the parts. Then one pass under cProfile: the share of Python time (self time) per
    group of modules (profile_shares, %)."""
    parts: dict[str, list[float]] = {name: [] for name in ("total_ms", *BREAKDOWN_PARTS, "jinja2_ms", "own_sql_ms")}
    spans: list[tuple[str, float, float]] = []

    def statement(execute, sql, params, many, context):
        return _timed(execute, "sql", spans)(sql, params, many, context)

    gc.collect()
    gc.freeze()
    try:
        with ExitStack() as stack:
            stack.enter_context(_timed_view(spans))
            stack.enter_context(_spans(django_backend.Template, "render", "template", spans))
            stack.enter_context(_spans(jinja2_backend.Template, "render", "jinja2", spans))
            stack.enter_context(connection.execute_wrapper(statement))
            for _ in range(repeat):
                spans.clear()
                started = time.perf_counter()
                fetch()
                total = time.perf_counter() - started
                for name, value in _split(total, list(spans)).items():
                    parts[name].append(value * 1000)
                started = time.perf_counter()
                replay()
                parts["own_sql_ms"].append((time.perf_counter() - started) * 1000)
        shares = _profile_shares(fetch, max(repeat, 3))
    finally:
        gc.unfreeze()
    return {
        **{name: statistics.median(values) for name, values in parts.items()},
        "profile_shares": shares,
    }


def _split(total: float, spans: list[tuple[str, float, float]]) -> dict[str, float]:
    """One request's time in parts: the statements, the templates less their statements, the view
    less its templates and statements, and the rest."""

    def within(label: str, outer: str) -> float:
        windows = [(start, end) for name, start, end in spans if name == outer]
        return sum(
            end - start
            for name, start, end in spans
            if name == label and any(w_start <= start and end <= w_end for w_start, w_end in windows)
        )

    def length(label: str) -> float:
        # Outermost spans only: a template rendered inside another is counted once.
        own = [(start, end) for name, start, end in spans if name == label]
        return sum(end - start for start, end in own if not any(s < start and end < e for s, e in own))

    sql = length("sql")
    view, template, jinja = length("view"), length("template"), length("jinja2")
    sql_in_view, sql_in_template = within("sql", "view"), within("sql", "template")
    sql_in_jinja = within("sql", "jinja2")
    return {
        "total_ms": total,
        "sql_ms": sql,
        "templates_ms": template - sql_in_template,
        "jinja2_ms": jinja - sql_in_jinja,
        "view_ms": view - template - (sql_in_view - sql_in_template),
        "outside_view_ms": total - view - (sql - sql_in_view),
    }


# cProfile's self time per group of modules, matched on the function's file (or a built-in's name).
PROFILE_GROUPS = {
    "database driver": ("psycopg", "django/db/backends/"),
    "ORM": ("django/db/",),
    "forms and filters": ("django/forms/", "django_filters/", "catalogue/filtersets", "catalogue/forms"),
    "templates": (
        "django/template/",
        "jinja2/",
        "markupsafe",
        "templatetags/",
        "templates/",
        "django/utils/html",
        "django/utils/formats",
        "django/utils/numberformat",
        "django/utils/dateformat",
        "django/contrib/humanize/",
    ),
    "middleware, sessions, auth": (
        "django/middleware/",
        "django/contrib/sessions/",
        "django/contrib/auth/",
        "django/contrib/messages/",
        "csp/",
        "axes/",
        "django_htmx/",
        "whitenoise/",
        "catalogue/middleware",
        "catalogue/security",
    ),
    "request and response": ("django/core/handlers/", "django/test/", "django/http/", "django/urls/"),
}


def _profile_shares(fetch: Callable, runs: int) -> dict[str, float]:
    """Per group of PROFILE_GROUPS (and "other"), the % of the Python self time of `runs` requests
    under cProfile (which slows the Python parts, so these are shares, not milliseconds)."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(runs):
        fetch()
    profile.disable()
    totals = dict.fromkeys([*PROFILE_GROUPS, "other"], 0.0)
    for (filename, _, function), (_, _, self_time, _, _) in pstats.Stats(profile).stats.items():
        where = function if filename == "~" else filename.replace(os.sep, "/")
        group = next((name for name, marks in PROFILE_GROUPS.items() if any(m in where for m in marks)), "other")
        totals[group] += self_time
    whole = sum(totals.values()) or 1.0
    return {name: round(100 * value / whole, 1) for name, value in totals.items()}


def _registration(investigation: Investigation, repeat: int) -> Result:
    """datafiles_register with a given file list, against a plain COPY of the same rows."""
    files = [
        {"path": f"scan/frame_{k:06d}.h5", "size": 4_000_000 + k, "checksum": f"{k:08x}", "modified": None}
        for k in range(REGISTRATION_FILES)
    ]
    service_times, copy_times = [], []
    for run in range(repeat + 1):  # the first is a warm-up
        service, copied = (_scratch_dataset(investigation) for _ in range(2))
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            datafiles_register(dataset_id=service.pk, files=files)
            service_time = time.perf_counter() - started
        started = time.perf_counter()
        _copy_files(copied.pk, files)
        copy_time = time.perf_counter() - started
        Dataset.objects.filter(pk__in=[service.pk, copied.pk]).delete()
        if run:
            service_times.append(service_time)
            copy_times.append(copy_time)
    rate, copy_rate = (REGISTRATION_FILES / statistics.median(times) for times in (service_times, copy_times))
    return Result(
        f"Datafile registration, {REGISTRATION_FILES:,} files per dataset",
        ">= 0.5x COPY",
        unit="rows/s",
        median=rate,
        p95=REGISTRATION_FILES / _p95(service_times),
        queries=len(queries),
        ratio=rate / copy_rate,
        ratio_to=f"COPY, {copy_rate:,.0f} rows/s",
    )


def _scratch_dataset(investigation: Investigation) -> Dataset:
    name = f"registration-{uuid.uuid4().hex[:12]}"
    return Dataset.objects.create(investigation=investigation, name=name, location=f"/bench/{name}")


def _copy_files(dataset_id: int, files: list[dict]) -> None:
    columns = "dataset_id, path, size, checksum, modified"
    statement = f"COPY {Datafile._meta.db_table} ({columns}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
        for item in files:
            copy.write_row((dataset_id, item["path"], item["size"], item["checksum"], item["modified"]))


def _vacuum_written_tables() -> None:
    """Items 1 and 2 store scratch datasets and delete them again: VACUUM their dead rows, which
    otherwise slow the next run (after a few thousand such datasets, one client's ingestion read
    48 datasets/s before a VACUUM and 70 after)."""
    tables = [model._meta.db_table for model in (Dataset, ParameterValue, Datafile, DatasetTally)]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(tables)}")


def _catalogue_size() -> dict[str, int]:
    """Rows per table as PostgreSQL estimates them (pg_class.reltuples, from the last ANALYZE)."""
    tables = {"investigations": Investigation, "datasets": Dataset, "datafiles": Datafile}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            [[model._meta.db_table for model in tables.values()]],
        )
        rows = dict(cursor.fetchall())
    return {name: rows[model._meta.db_table] for name, model in tables.items()}


# --- Servers: gunicorn on loopback ---------------------------------------------------------------


def _concurrent_api(url: str, client: Client, repeat: int) -> Result:
    """The dataset list API under 50 clients at once, each with its own connection, as the admin."""
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}

    def client_run(_) -> list[float]:
        with requests.Session() as session:
            session.cookies.update(cookies)
            _api_get(session, url)  # warm-up: the connection, the worker's
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                _api_get(session, url)
                times.append((time.perf_counter() - started) * 1000)
            return times

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        times = [t for client_times in pool.map(client_run, range(CONCURRENT_CLIENTS)) for t in client_times]
    elapsed = time.perf_counter() - started
    return Result(
        f"Dataset list API, {CONCURRENT_CLIENTS} concurrent clients, gunicorn ({GUNICORN_WORKERS} workers) on loopback",
        "p95 <= 250 ms",
        median=statistics.median(times),
        p95=_p95(times),
        throughput=CONCURRENT_CLIENTS * (repeat + 1) / elapsed,
        note="throughput in requests/s, warm-up requests included",
    )


def _api_get(session: requests.Session, url: str) -> None:
    response = session.get(f"{url}/api/v1/datasets/", timeout=60)
    if response.status_code != 200:
        raise BenchmarkError(f"GET /api/v1/datasets/ through gunicorn answered {response.status_code}")


# --- Ingestion through the API, with the worker ---------------------------------------------------


def _ingestion_title(clients: int, batch: bool = False) -> str:
    return (
        f"Ingestion via the HTTP API with a worker: {INGESTION_PARAMETERS} parameters and {INGESTION_FILES} files"
        f" a dataset, {clients} client{'s' if clients > 1 else ''}"
        + (f", batches of {INGESTION_BATCH_DATASETS} (POST /api/v1/datasets/batch/)" if batch else "")
    )


def _ingestion(
    url: str, data_root: Path, investigation: Investigation, clients: int, repeat: int, *, batch: bool = False
) -> Result:
    """Datasets per second from the first POST until every dataset is complete: its files registered,
    with the dataset when its list is short (settings.INGESTION_INLINE_FILES), by the worker otherwise.
    batch: INGESTION_BATCH_DATASETS datasets a run, in one POST /api/v1/datasets/batch/ (one client)."""
    count = INGESTION_BATCH_DATASETS if batch else INGESTION_DATASETS
    key, secret = api_key_create(instrument=investigation.instrument, name="benchmark")
    headers = {"Authorization": f"Api-Key {secret}"}
    parameters = _ingestion_parameters()
    times = []
    try:
        for run in range(repeat + 1):  # the first is a warm-up
            root = Path(locations.pattern_folder(investigation, data_root)) / f"run-{uuid.uuid4().hex[:12]}"
            bodies = [_ingestion_body(investigation, root / f"ds{i:03d}", parameters) for i in range(count)]
            started = time.perf_counter()
            if batch:
                _api_post_batch(url, headers, bodies)
            else:
                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(lambda body: _api_post(url, headers, body), bodies))
            ingested = Dataset.objects.filter(location__startswith=f"{root}/")
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while ingested.filter(complete=True).count() < count:
                if time.monotonic() > deadline:
                    raise BenchmarkError("the files of the ingested datasets were not registered in time")
                time.sleep(0.01)
            if run:
                times.append(time.perf_counter() - started)
            ingested.delete()
    finally:
        key.delete()
    return Result(
        _ingestion_title(clients, batch),
        ">= 500 datasets/s" if batch else ">= 100 datasets/s",
        unit="datasets/s",
        median=count / statistics.median(times),
        p95=count / _p95(times),
        note=f"{count} datasets a run{' in one batch' if batch else ''}, timed until their files are registered",
    )


def _store_server_time(investigation: Investigation, repeat: int) -> Result:
    """One POST /api/v1/datasets/ (60 parameters, 100 files) timed inside the server: Django's test
    client runs the whole stack without HTTP; no worker is needed (the files are registered with the
    dataset). STORE_RUNS stores a run at least, each a new dataset, deleted afterwards."""
    key, secret = api_key_create(instrument=investigation.instrument, name="benchmark")
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Api-Key {secret}")
    parameters = _ingestion_parameters()
    with tempfile.TemporaryDirectory() as data_root, override_settings(DATA_ROOTS=[Path(data_root)]):
        root = Path(locations.pattern_folder(investigation, data_root)) / f"run-{uuid.uuid4().hex[:12]}"
        bodies = (_ingestion_body(investigation, root / f"ds{i:04d}", parameters) for i in itertools.count())

        def store() -> None:
            response = client.post("/api/v1/datasets/", next(bodies), content_type="application/json")
            if response.status_code != 201:
                raise BenchmarkError(
                    f"POST /api/v1/datasets/ answered {response.status_code}: {response.content[:2000]}"
                )

        try:
            result = _measure(
                f"Store one dataset inside the server: {INGESTION_PARAMETERS} parameters and {INGESTION_FILES} files",
                "p50 <= 12 ms",
                store,
                max(repeat, STORE_RUNS),
            )
        finally:
            Dataset.objects.filter(location__startswith=f"{root}/").delete()
            key.delete()
    return result


def _ingestion_parameters() -> dict[str, float]:
    """60 numeric parameters valid for MX_OSCILLATION: those it requires, then MX's others by name."""
    definition = DatasetDefinition.objects.get(code=INGESTION_DEFINITION)
    numeric = ParameterType.objects.filter(technique=definition.technique, value_type=ParameterType.ValueType.NUMERIC)
    chosen = [*numeric.filter(name__in=definition.requires), *numeric.exclude(name__in=definition.requires)]
    return {t.name: _valid_value(t) for t in chosen[:INGESTION_PARAMETERS]}


def _valid_value(parameter_type: ParameterType) -> float:
    low = parameter_type.minimum if parameter_type.minimum is not None else 0.0
    return (low + parameter_type.maximum) / 2 if parameter_type.maximum is not None else low + 1


def _ingestion_body(investigation: Investigation, location: Path, parameters: dict) -> dict:
    return {
        "proposal": investigation.name,
        "visit_id": investigation.visit_id,
        "name": location.name,
        "location": str(location),
        "definition": INGESTION_DEFINITION,
        "parameters": parameters,
        "files": [{"path": f"{location.name}_{k:04d}.cbf", "size": 6_000_000} for k in range(INGESTION_FILES)],
    }


def _api_post_batch(url: str, headers: dict, bodies: list[dict]) -> None:
    response = requests.post(f"{url}/api/v1/datasets/batch/", json={"datasets": bodies}, headers=headers, timeout=600)
    if response.status_code != 200:
        raise BenchmarkError(f"POST /api/v1/datasets/batch/ answered {response.status_code}: {response.text[:2000]}")
    refused = [item for item in response.json()["results"] if item["status"] != 201]
    if refused:
        raise BenchmarkError(f"POST /api/v1/datasets/batch/ refused {len(refused)} datasets: {str(refused[0])[:2000]}")


def _api_post(url: str, headers: dict, body: dict) -> None:
    response = requests.post(f"{url}/api/v1/datasets/", json=body, headers=headers, timeout=60)
    if response.status_code != 201:
        raise BenchmarkError(f"POST /api/v1/datasets/ answered {response.status_code}: {response.text[:2000]}")
