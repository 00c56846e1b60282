"""Nothing lost when the broker or the database fails (README, "Reliability"): the registration
outbox, its reconciliation, and 503 + Retry-After while the database cannot be reached.
test_faults.py kills the real processes during a run."""

import io
import time

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from catalogue import tasks
from catalogue.ingestion.client import CatalogueError, store_dataset
from catalogue.ingestion.services import dataset_store
from catalogue.models import Datafile, Dataset, PendingRegistration

from .conftest import key_actor, store_request
from .processes import app_env, database_url, free_port, start_server, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(investigation, vocabulary, raw_definition, processed_definition):
    """Everything a valid request for MX-1/v1 refers to."""
    return investigation


def file_list(count: int, prefix: str = "frame") -> list[dict]:
    return [{"path": f"{prefix}_{i:05d}.cbf", "size": 1000 + i} for i in range(count)]


def long_list(prefix: str = "frame") -> list[dict]:
    """Longer than the inline limit: registered by the worker."""
    return file_list(settings.INGESTION_INLINE_FILES + 200, prefix)


# --- The outbox, in process (tasks run eagerly) ------------------------------------------------


def test_a_long_list_waits_in_the_outbox_and_the_message_names_only_the_dataset(
    world, api_key, data_root, django_capture_on_commit_callbacks
):
    files = long_list()
    with django_capture_on_commit_callbacks() as callbacks:
        dataset, created = dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=files))
    assert created and not dataset.complete
    assert PendingRegistration.objects.get(dataset=dataset).files == files  # committed with the dataset
    assert len(callbacks) == 1

    callbacks[0]()  # the commit's send: the task runs eagerly here
    dataset.refresh_from_db()
    assert dataset.complete and dataset.file_count == len(files)
    assert dataset.size == sum(f["size"] for f in files)
    assert not PendingRegistration.objects.exists()
    # Delivered again (a worker killed before its acknowledgement, a reconciliation): nothing to do.
    assert tasks.register_datafiles.apply(args=(dataset.pk,)).get() is None
    assert Datafile.objects.filter(dataset=dataset).count() == len(files)


def test_a_short_list_is_registered_inline_without_the_outbox(world, api_key, data_root):
    dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=file_list(10)))
    assert dataset.complete and dataset.file_count == 10
    assert not PendingRegistration.objects.exists()


def test_two_stores_before_the_worker_runs_register_both_lists(
    world, api_key, data_root, django_capture_on_commit_callbacks
):
    first, second = long_list("first"), long_list("second")
    with django_capture_on_commit_callbacks() as callbacks:
        dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=first))
        dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=second))
    assert PendingRegistration.objects.filter(dataset=dataset).count() == 2
    assert tasks.register_datafiles.apply(args=(dataset.pk,)).get() == len(first) + len(second)
    assert tasks.register_datafiles.apply(args=(dataset.pk,)).get() is None  # the second message
    assert len(callbacks) == 2 and not PendingRegistration.objects.exists()


def test_reconciliation_waits_for_the_grace_period(world, api_key, data_root, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # the commit's send is lost: not executed
        dataset, _ = dataset_store(actor=key_actor(api_key), request=store_request(data_root, files=long_list()))
    out = io.StringIO()
    call_command("reconcile_datasets", stdout=out)  # just sent: within the grace period
    assert "Sent again 0 registration(s); 1 dataset(s)" in out.getvalue()
    assert tasks.reconcile_registrations.apply().get() == 0  # the beat task likewise

    call_command("reconcile_datasets", grace=0, stdout=out)  # eagerly registered here
    dataset.refresh_from_db()
    assert dataset.complete and dataset.file_count == settings.INGESTION_INLINE_FILES + 200
    assert not PendingRegistration.objects.exists()


# --- A real dead Redis, a real dead PostgreSQL, through gunicorn -------------------------------


@pytest.fixture
def celery_worker_env(data_root) -> dict[str, str]:
    """The worker's data roots and folder pattern: those of this test's investigations."""
    return {"DATA_ROOTS": str(data_root.parent), "DATA_FOLDER_PATTERN": settings.DATA_FOLDER_PATTERN}


@pytest.fixture
def dead_broker_server(transactional_db, data_root, tmp_path):
    """gunicorn on the test database, its broker a Redis URL on a port where nothing listens."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL shared with the server process (run `make test`)")
    env = app_env(
        DATABASE_URL=database_url(connection.settings_dict),
        CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",
        DATA_ROOTS=str(data_root.parent),
        DATA_FOLDER_PATTERN=settings.DATA_FOLDER_PATTERN,
    )
    server, url = start_server(env, tmp_path / "gunicorn.log")
    yield url
    server.stop()


def store_long_list(url: str, secret: str, data_root) -> dict:
    return store_dataset(
        url, secret, retries=0, proposal="MX-1", visit_id="v1", name="scan 1",
        location=str(data_root / "scan1"), files=long_list(),
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_dead_broker_after_commit_answers_stored_and_pending(world, api_key, data_root, dead_broker_server):
    stored = store_long_list(dead_broker_server, api_key[1], data_root)
    assert stored.created  # 201, not a 500: the dataset and its registration are committed
    assert stored["complete"] is False and stored["file_count"] == 0
    pending = PendingRegistration.objects.get(dataset_id=stored["id"])
    assert len(pending.files) == settings.INGESTION_INLINE_FILES + 200
    assert not Dataset.objects.get(pk=stored["id"]).complete


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_reconciliation_sends_a_lost_registration_again_and_the_worker_completes_it(
    world, api_key, data_root, dead_broker_server, celery_worker_process
):
    stored = store_long_list(dead_broker_server, api_key[1], data_root)
    assert stored["complete"] is False
    out = io.StringIO()
    call_command("reconcile_datasets", grace=0, stdout=out)  # through the suite's Redis, to the real worker
    assert "Sent again 1 registration(s)" in out.getvalue()

    def registered():
        return Dataset.objects.filter(pk=stored["id"], complete=True).first()

    dataset = wait_for(registered, timeout=60, what="the worker registering the files", interval=0.2)
    files = long_list()
    assert dataset.file_count == len(files) and dataset.size == sum(f["size"] for f in files)
    assert not PendingRegistration.objects.exists()
    call_command("reconcile_datasets", grace=0, stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("Sent again 0 registration(s); 0 dataset(s)")


def test_an_unreachable_database_answers_503_with_retry_after(tmp_path):
    """PostgreSQL down (a port where nothing listens): the API and the portal answer 503, never 500,
    and the project's client retries, waiting as Retry-After asks."""
    env = app_env(
        DATABASE_URL=f"postgres://catalogue:catalogue@127.0.0.1:{free_port()}/catalogue",
        CELERY_BROKER_URL="",
    )
    server, url = start_server(env, tmp_path / "gunicorn.log")
    try:
        listed = requests.get(f"{url}/api/v1/datasets/", timeout=30)
        posted = requests.post(
            f"{url}/api/v1/datasets/", json={"name": "x"}, headers={"Authorization": "Api-Key abc.def"}, timeout=30
        )
        page = requests.get(f"{url}/datasets/", timeout=30)

        answers = []
        session = requests.Session()
        session.hooks["response"].append(lambda response, *args, **kwargs: answers.append(response.status_code))
        started = time.monotonic()
        with pytest.raises(CatalogueError) as refused:
            store_dataset(url, "abc.def", retries=1, backoff=0.01, session=session, name="x", location="/x")
        waited = time.monotonic() - started
    finally:
        server.stop()

    for response in (listed, posted):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.headers["Content-Type"] == "application/json"
        assert "database is unavailable" in response.json()["detail"]
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert page.headers["Content-Type"].startswith("text/html")
    assert refused.value.status == 503 and answers == [503, 503]
    assert waited >= 5  # Retry-After, not the 0.01 s backoff
