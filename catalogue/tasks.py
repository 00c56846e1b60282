from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from catalogue.ingestion.registration import registration_run, registrations_resend
from catalogue.policy.services import release_notices_send
from catalogue.storage import services as storage

from .people import usersync

# The database or the broker unreachable for a while (a restart, a fail-over): try again later.
CONNECTION_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError)


@shared_task(
    acks_late=True,  # idempotent: a worker killed mid-task leaves the message to be delivered again
    reject_on_worker_lost=True,
    autoretry_for=CONNECTION_ERRORS,
    retry_backoff=2,  # waits of up to 2, 4, 8 ... s (jittered)
    retry_backoff_max=300,  # below the broker's visibility timeout, see settings.CELERY_BROKER_TRANSPORT_OPTIONS
    max_retries=10,  # within about 20 minutes; then reconcile_registrations sends it again
)
def register_datafiles(dataset_id: int) -> int | None:
    """Register what catalogue.models.PendingRegistration holds for the dataset; returns its file
    count, or None when nothing was pending (an earlier delivery did it)."""
    dataset = registration_run(dataset_id=dataset_id)
    return None if dataset is None else dataset.file_count


@shared_task
def reconcile_registrations() -> int:
    """Periodic (beat): send again the registrations pending past settings.REGISTRATION_GRACE_SECONDS."""
    return registrations_resend(older_than=timedelta(seconds=settings.REGISTRATION_GRACE_SECONDS))


@shared_task
def send_release_notices() -> int:
    """Daily (beat): e-mail participants a month before their data becomes public."""
    return release_notices_send()


@shared_task
def sync_user_office() -> dict | None:
    """Periodic (beat): import the user office's export named by settings.USER_OFFICE_EXPORT."""
    if not settings.USER_OFFICE_EXPORT:
        return None
    return usersync.sync_file(settings.USER_OFFICE_EXPORT).counts()


@shared_task(
    acks_late=True,  # idempotent: an archived dataset is not archived again
    reject_on_worker_lost=True,
    autoretry_for=CONNECTION_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=10,
)
def archive_dataset(dataset_id: int, reason: str, actor_id: int | None = None) -> bool:
    """Copy the dataset to the archive, verify it, mark it ARCHIVED, free its disk space. A failed
    copy is in the dataset's history and the data stay online."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return storage.dataset_archive(dataset_id=dataset_id, reason=reason, actor=actor)
    except storage.ArchiveError:
        return False


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def restore_dataset(self, job_id: int) -> str | None:
    """Run a restore job (on settings.STORAGE_RESTORE_QUEUE). Idempotent: a job delivered again, or
    resumed after its worker died, copies only what is not back yet. The database or broker away:
    retried until they return. The archive failing: retried with backoff, then the job fails and
    its requesters are told; the dataset is never left RESTORING."""
    try:
        job = storage.restore_run(job_id=job_id)
    except CONNECTION_ERRORS as exc:
        raise self.retry(exc=exc, countdown=min(2 ** min(self.request.retries, 8), 300)) from exc
    except Exception as exc:
        if self.request.retries >= settings.STORAGE_RESTORE_RETRIES:
            storage.restore_fail(job_id=job_id, error=str(exc) or type(exc).__name__)
            return "failed"
        if self.request.is_eager:  # no broker to wait with (the embedded default): again at once
            return self.apply(args=[job_id], retries=self.request.retries + 1).result
        raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 900)) from exc
    return None if job is None else job.state


@shared_task
def archive_due_datasets() -> int:
    """Daily (beat): archive the datasets older than settings.STORAGE_ARCHIVE_AFTER_DAYS."""
    return storage.archive_due()


@shared_task
def release_restored_datasets() -> int:
    """Hourly (beat): restored data whose time on disk is over go back to ARCHIVED."""
    return storage.restored_release()


@shared_task
def reconcile_restores() -> int:
    """Periodic (beat): send again the restores with no sign of life (a lost message, a dead worker)."""
    return storage.restores_resend(older_than=timedelta(seconds=settings.STORAGE_RESTORE_GRACE_SECONDS))
