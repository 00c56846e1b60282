"""The benchmarks of the catalogue at facility scale (manage.py benchmark), on a generated catalogue.

Item 8 (catalogue/bench/storage.py), downloads and restores, needs no generated catalogue.

Each figure is the median and the 95th percentile (nearest rank) of `repeat` timed runs after one
warm-up run, the two sides of a ratio taking turns; the query count is that of the last run. Pages
are timed in the server: Django's test client through the whole middleware stack and the
templates, without a network. Ingestion (1) and the concurrent API (7) go through gunicorn on
loopback, with a real Celery worker for (1); without a broker (1) is reported as not measured,
never with a number."""

import gc
import math
import os
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalogue import locations
from catalogue.ingestion.registration import datafiles_register
from catalogue.models import Datafile, Dataset, DatasetTally, Investigation, ParameterValue
from catalogue.people.services import api_key_create
from catalogue.portal.views import DATASETS_PER_PAGE
from config import gunicorn as gunicorn_config
from techniques.models import DatasetDefinition, ParameterType

from . import storage
from .servers import SERVER_START_TIMEOUT, BenchmarkError, servers
from .synthetic import BENCH_ADMIN, BENCH_USER

REGISTRATION_FILES = 10_000  # rows registered per run of (2)
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


ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8")


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
            "<= 50 ms and <= 3x raw SQL",
            lambda user: _get(clients[user], investigation_url),
        ),
        f"3_investigation_page_{DEEP_PAGE}": (
            f"Investigation page, {investigation.n:,} datasets: page {deep} of {pages}",
            "<= 50 ms and <= 3x raw SQL",
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
    raw_pages = {"3_investigation_page_1": 1, f"3_investigation_page_{DEEP_PAGE}": deep}
    if "2" in only:
        results["2_datafile_registration"] = _registration(investigation, repeat)
    for key, (title, target, fetch) in lists.items():
        # A ratio's two sides are measured in turn: the page and its raw SQL, the admin and the user.
        turns = {key: (title, target, fetch(admin))}
        if key in raw_pages:
            turns["raw"] = ("", "", lambda page=raw_pages[key]: _raw_page(investigation.pk, page))
        if "6" in only:
            turns[f"6_{key[2:]}_user"] = (f"{title}, as {BENCH_USER}", "<= 1.5x the admin's", fetch(person))
        measured = dict(zip(turns, _measure_in_turn(list(turns.values()), repeat), strict=True))
        result = results[key] = measured.pop(key)
        if raw := measured.pop("raw", None):
            result.ratio, result.ratio_to = result.median / raw.median, f"raw SQL, {raw.median:.2f} ms"
        for user_key, user_result in measured.items():
            user_result.ratio, user_result.ratio_to = user_result.median / result.median, BENCH_ADMIN
            results[user_key] = user_result
    if "4" in only:
        results["4_dataset_page"] = _measure(
            f"Dataset page, {big.file_count:,} files", "<= 100 ms", _get(clients[admin], big.get_absolute_url()), repeat
        )
    if "1" in only or "7" in only:
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


def _raw_page(investigation_id: int, page: int) -> None:
    """The same dataset rows as the page, by hand."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM catalogue_dataset WHERE investigation_id = %s"
            " ORDER BY start_date DESC, id DESC LIMIT %s OFFSET %s",
            [investigation_id, DATASETS_PER_PAGE, (page - 1) * DATASETS_PER_PAGE],
        )
        cursor.fetchall()


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
