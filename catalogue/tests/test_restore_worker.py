"""Restores through the real parts: a Celery worker consuming the restore queue (as production runs
it: its own worker, one process per tape drive) over the suite's Redis and PostgreSQL, the
filesystem archive with a tape mount's delay, and e-mails written by Django's file backend.

The worker is killed (SIGKILL) in the middle of a restore; the job's message, acknowledged late,
is delivered again to the worker that replaces it, which finishes the job: the dataset ends online
with every byte, once, and both users who asked for it get one e-mail each."""

import os
import time

import pytest
from django.conf import settings
from django.db import connection

from catalogue.models import Dataset, RestoreJob, RestoreRequest
from catalogue.storage import services

from .conftest import make_user
from .processes import app_env, database_url, read_log, start_worker, wait_for
from .test_storage import FILES, archived, dataset_with_files, on_disk

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MOUNT_SECONDS = 3  # the tape's mount: long enough to kill the worker in it


@pytest.fixture
def restore_env(tmp_path, data_root, archive_root):
    if connection.vendor != "postgresql" or not os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("needs the suite's PostgreSQL and Redis (run `make test`)")
    mail = tmp_path / "mail"
    mail.mkdir()
    return mail, app_env(
        DATABASE_URL=database_url(connection.settings_dict),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DATA_ROOTS=str(data_root.parent),
        DATA_FOLDER_PATTERN=settings.DATA_FOLDER_PATTERN,
        STORAGE_ARCHIVE_ROOT=str(archive_root),
        STORAGE_RESTORE_DELAY=str(MOUNT_SECONDS),
        # A message held by a dead worker comes back this soon (production: 30 min, and the
        # reconciliation sends lost restores again meanwhile).
        CELERY_VISIBILITY_TIMEOUT="2",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail),
    )


def test_a_killed_restore_resumes_and_two_users_get_one_restore(investigation, data_root, restore_env, tmp_path):
    from config import celery_app

    mail, env = restore_env
    celery_app.control.purge()
    dataset = archived(dataset_with_files(investigation, data_root / "scan1", FILES, name="scan1"))
    alice, bob = make_user("alice", email="alice@example.org"), make_user("bob", email="bob@example.org")
    log = tmp_path / "worker.log"
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False  # sent through Redis to the worker
    worker = start_worker(env, log, name="restore-1@localhost", concurrency=1, queues=settings.STORAGE_RESTORE_QUEUE)
    try:
        services.restore_request(user=alice, datasets=Dataset.objects.filter(pk=dataset.pk))
        job = RestoreJob.objects.get()
        wait_for(
            lambda: RestoreJob.objects.get().state == RestoreJob.State.RUNNING,
            timeout=60,
            what=f"the restore running:\n{read_log(log)}",
        )
        services.restore_request(user=bob, datasets=Dataset.objects.filter(pk=dataset.pk))  # joins the job
        assert RestoreJob.objects.count() == 1 and RestoreRequest.objects.count() == 2
        worker.kill()  # in the tape's mount: nothing acknowledged
        assert Dataset.objects.get(pk=dataset.pk).storage_status == "restoring"

        time.sleep(2.5)  # past the visibility timeout
        worker = start_worker(env, log, name="restore-2@localhost", concurrency=1, queues="restore")
        wait_for(
            lambda: RestoreJob.objects.get().state == RestoreJob.State.DONE,
            timeout=90,
            what=f"the restore resumed and done:\n{read_log(log)}",
        )
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = previous
    job.refresh_from_db()
    assert job.attempts == 2  # the killed run and the resumed one
    assert (job.files_done, job.bytes_done) == (len(FILES), sum(map(len, FILES.values())))
    dataset.refresh_from_db()
    assert dataset.storage_status == "online"
    assert on_disk(dataset) == FILES
    # The file backend writes the messages sent through one connection into one file.
    mails = "".join(path.read_text() for path in mail.iterdir()).split("\n" + "-" * 79 + "\n")
    mails = [m for m in mails if m.strip()]
    assert sorted(line for m in mails for line in m.splitlines() if line.startswith("To: ")) == [
        "To: alice@example.org",
        "To: bob@example.org",
    ]
    assert all(f"/datasets/{dataset.pk}/" in m for m in mails)
