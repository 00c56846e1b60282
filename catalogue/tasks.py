from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from catalogue.ingestion.registration import registration_run, registrations_resend
from catalogue.policy.services import release_notices_send

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
