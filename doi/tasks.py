"""Thin Celery tasks of publication: send a publication's pending change to DataCite (retried
with backoff while DataCite is down), send again what stayed pending (beat), and publish the
session DOIs of the sessions whose release date has come (beat)."""

import random

from celery import shared_task
from django.conf import settings

from . import services
from .datacite import DataCiteUnavailable

MAX_RETRIES = 8  # waits of 30 s, 1, 2, 4 ... 64 min: about two hours; then the reconcile task


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def sync_publication(self, publication_id: int) -> str:
    """Idempotent: it sends only what is still pending. Eager (the embedded setup, no worker to
    wait for), an outage leaves the change pending for the reconcile task rather than blocking."""
    try:
        return services.publication_sync(publication_id=publication_id)
    except DataCiteUnavailable as exc:
        if self.request.is_eager:
            return "pending"
        countdown = min(30 * 2**self.request.retries, 3600) * random.uniform(0.8, 1.2)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def reconcile_publications() -> int:
    """Periodic (beat): send again the publications pending for longer than DOI_RECONCILE_SECONDS."""
    return len(services.publications_reconcile(grace_seconds=settings.DOI_RECONCILE_SECONDS))


@shared_task
def publish_released_sessions() -> int:
    """Periodic (beat): publish the session DOI of every session past its release date."""
    return services.publications_release_sessions()
