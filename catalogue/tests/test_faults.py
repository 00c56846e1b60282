"""Fault injection: every dataset ends complete although the worker, Redis and PostgreSQL fail.

A production-like setup of the test's own (the suite's Redis and PostgreSQL are shared by every
test): PostgreSQL, Redis without persistence, gunicorn and a Celery worker (threads), clients
storing datasets of more files than the inline limit with the project's client over HTTP. During
the run the worker is killed (SIGKILL) while it holds a message, Redis is killed and restarted
empty, PostgreSQL is stopped and started. Then the reconciliation (`reconcile_datasets`) sends
again what was lost, and every dataset must be complete with the right file count and size, once.
"""

import queue
import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg
import pytest

from catalogue.ingestion.client import store_dataset

from .processes import BASE_DIR, Postgres, Redis, app_env, read_log, start_server, start_worker, wait_for

pytestmark = pytest.mark.worker

FILES = 1200  # above the inline limit (1,000): registered by the worker
BATCH = 12  # datasets per phase; four phases
CLIENTS = 3
GRACE = 3  # seconds: REGISTRATION_GRACE_SECONDS of the run

SEED = """
from datetime import timedelta
from django.utils import timezone
from catalogue.models import Instrument, Investigation
from catalogue.people.services import api_key_create
instrument = Instrument.objects.create(name="ID99")
now = timezone.now()
Investigation.objects.create(
    name="FAULT-1", visit_id="v1", instrument=instrument, data_folder={folder!r},
    start_date=now - timedelta(hours=1), end_date=now + timedelta(hours=1), release_date=now + timedelta(days=365),
)
print(api_key_create(instrument=instrument, name="faults")[1])
"""


def files_of(index: int) -> list[dict]:
    return [{"path": f"frames/frame_{k:05d}.h5", "size": 1000 * index + k} for k in range(FILES)]


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture
def stack(tmp_path):
    """Own PostgreSQL and Redis, the schema, one investigation and its key; gunicorn and a worker."""
    try:
        postgres, redis = Postgres(), Redis(tmp_path)
    except FileNotFoundError as missing:
        pytest.skip(f"needs PostgreSQL's and Redis's server binaries: {missing}")
    folder = tmp_path / "data" / "fault1"
    folder.mkdir(parents=True)
    processes = []
    try:
        postgres.init()
        redis.start()
        env = app_env(
            DATABASE_URL=postgres.url,
            CELERY_BROKER_URL=redis.url,
            CACHE_URL=redis.url.rsplit("/", 1)[0] + "/1",  # the API-key throttle's counts: Redis dies too
            DATA_ROOTS=str(tmp_path / "data"),
            DATA_FOLDER_PATTERN="{root}/{proposal}",
            REGISTRATION_GRACE_SECONDS=str(GRACE),
            CELERY_WORKER_POOL="threads",
            CELERY_WORKER_CONCURRENCY="2",
        )
        manage(env, "migrate", "--noinput", "-v", "0")
        secret = manage(env, "shell", "-c", SEED.format(folder=str(folder))).strip().splitlines()[-1]
        server, url = start_server(env, tmp_path / "gunicorn.log", workers=2)
        processes.append(server)
        stack = {"postgres": postgres, "redis": redis, "env": env, "url": url, "secret": secret, "folder": folder}
        stack["processes"] = processes
        yield stack
    finally:
        for process in processes:
            process.stop()
        redis.kill()
        postgres.remove()


def test_nothing_is_lost_when_the_worker_redis_and_postgresql_fail(stack, tmp_path):
    postgres, redis, env = stack["postgres"], stack["redis"], stack["env"]
    statuses: Counter = Counter()
    results: dict[int, object] = {}
    lock = threading.Lock()
    work: queue.Queue = queue.Queue()

    def client():
        import requests

        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **k: statuses.update([r.status_code]))
        while (index := work.get()) is not None:
            try:
                stored = store_dataset(
                    stack["url"], stack["secret"], retries=10, backoff=0.5, timeout=60, session=session,
                    proposal="FAULT-1", visit_id="v1", name=f"dataset {index}",
                    location=str(stack["folder"] / f"d{index:03d}"), files=files_of(index),
                )  # fmt: skip
            except Exception as exc:  # reported by the assertions below
                stored = exc
            with lock:
                results[index] = stored

    def answered() -> int:
        with lock:
            return len(results)

    def post(batch: int) -> None:
        for index in range(batch * BATCH, (batch + 1) * BATCH):
            work.put(index)

    worker_logs = []

    def new_worker():
        log = tmp_path / f"worker-{len(worker_logs)}.log"
        worker_logs.append(log)
        return start_worker(env, log, name=f"faults-{len(worker_logs)}@localhost")

    workers = [new_worker()]
    stack["processes"].append(workers[0])

    def supervise() -> None:
        """As systemd's Restart=always: a worker that died by itself is started again. Celery's
        consumer may exit with "Unrecoverable error" when Redis goes away under it (kombu), and
        production runs the worker under a supervisor (README, "Reliability")."""
        if not workers[-1].alive():
            workers.append(new_worker())
            stack["processes"].append(workers[-1])
            figures["workers restarted by the supervisor"] = figures.get("workers restarted by the supervisor", 0) + 1

    clients = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    worker = workers[0]
    for thread in clients:
        thread.start()
    figures = {}
    started = time.monotonic()

    # 1. The worker killed (SIGKILL) while it holds a message: acknowledged late, it stays in Redis's
    # unacked set until the visibility timeout (30 min); the reconciliation sends it sooner.
    post(0)
    held = redis.client()
    wait_for(
        lambda: held.hlen("unacked") > 0 or answered() >= BATCH, timeout=120, what="the worker busy", interval=0.002
    )
    figures["messages held by the killed worker"] = held.hlen("unacked")
    worker.kill()
    wait_for(lambda: answered() >= BATCH, timeout=120, what="phase 1's answers")
    supervise()

    # 2. Redis killed and restarted empty (no persistence): queued messages are lost, and requests
    # meanwhile cannot queue theirs (201, complete false).
    post(1)
    wait_for(lambda: answered() >= BATCH + 2, timeout=120, what="phase 2 under way")
    redis.kill()
    killed_at, before = time.monotonic(), answered()
    wait_for(lambda: answered() >= before + 4 and time.monotonic() - killed_at >= 3, timeout=120, what="Redis down")
    figures["answers while Redis was down"] = answered() - before
    redis.start()
    wait_for(lambda: answered() >= 2 * BATCH, timeout=120, what="phase 2's answers")
    supervise()

    # 3. PostgreSQL stopped (fast: connections cut) and started again: requests answer 503 and the
    # client retries them; registrations meet a dead connection and retry with backoff.
    post(2)
    wait_for(lambda: answered() >= 2 * BATCH + 2, timeout=120, what="phase 3 under way")
    postgres.stop("fast")
    time.sleep(3)  # the outage
    postgres.start()
    wait_for(lambda: answered() >= 3 * BATCH, timeout=180, what="phase 3's answers")

    # 4. No fault.
    post(3)
    wait_for(lambda: answered() >= 4 * BATCH, timeout=120, what="phase 4's answers")
    for _ in clients:
        work.put(None)
    figures["run (s)"] = round(time.monotonic() - started, 1)

    failures = {index: result for index, result in results.items() if isinstance(result, Exception)}
    assert not failures, failures
    figures["answers by status"] = dict(sorted(statuses.items()))
    figures["stored incomplete (201/200)"] = sum(not r["complete"] for r in results.values())

    database = psycopg.connect(f"postgresql://catalogue@127.0.0.1:{postgres.port}/catalogue", autocommit=True)

    def pending() -> int:
        return database.execute("SELECT count(DISTINCT dataset_id) FROM catalogue_pendingregistration").fetchone()[0]

    figures["registrations pending at the end of the run"] = pending()
    # The reconciliation, as the beat task runs it every few minutes, until nothing is pending.
    reconciled, runs = 0, 0
    deadline = time.monotonic() + 120
    while pending():
        assert time.monotonic() < deadline, f"still pending: {pending()}\n{read_log(worker_logs[-1])}"
        supervise()
        output = manage(env, "reconcile_datasets")
        reconciled += int(output.split()[2].replace(",", ""))
        runs += 1
        time.sleep(1)  # poll
    figures["registrations sent again"] = reconciled
    figures["reconciliation runs"] = runs
    figures["task retries (worker logs)"] = sum(read_log(log, 10**7).count(" retry: Retry in ") for log in worker_logs)
    figures["total (s)"] = round(time.monotonic() - started, 1)

    rows = database.execute(
        "SELECT d.location, d.complete, d.file_count, d.size, count(f.id), coalesce(sum(f.size), 0)"
        " FROM catalogue_dataset d LEFT JOIN catalogue_datafile f ON f.dataset_id = d.id GROUP BY d.id"
    ).fetchall()
    database.close()
    expected = {str(stack["folder"] / f"d{i:03d}"): sum(f["size"] for f in files_of(i)) for i in range(4 * BATCH)}
    print("\nfault injection:", figures)
    assert sorted(row[0] for row in rows) == sorted(expected)  # each dataset once: 0 duplicates
    for location, complete, file_count, size, files, files_size in rows:
        assert (complete, file_count, files) == (True, FILES, FILES), location
        assert size == files_size == expected[location], location
