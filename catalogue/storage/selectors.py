"""The storage reads: restore requests and jobs, and a dataset's storage history."""

from django.db.models import QuerySet

from catalogue.models import Dataset, RestoreJob, RestoreRequest, StorageEvent


def restore_requests_of(user) -> QuerySet[RestoreRequest]:
    """A person's requests, newest first, with their job and dataset (for "My requests")."""
    return (
        RestoreRequest.objects.filter(user=user)
        .select_related("job__dataset__investigation")
        .order_by("-requested", "-pk")
    )


def storage_history(dataset: Dataset, limit: int = 20) -> QuerySet[StorageEvent]:
    return StorageEvent.objects.filter(dataset=dataset).select_related("actor").order_by("-time", "-pk")[:limit]


def open_restore_job(dataset: Dataset) -> RestoreJob | None:
    """The restore under way (no query unless the dataset is restoring)."""
    if dataset.storage_status != Dataset.StorageStatus.RESTORING:
        return None
    return RestoreJob.objects.filter(dataset=dataset, state__in=RestoreJob.OPEN).first()
