from celery import shared_task
from django.conf import settings

from . import services, usersync


@shared_task(acks_late=True)
def register_datafiles(dataset_id: int, files: list | None = None) -> int | None:
    """Register a dataset's files; idempotent (upsert by path), so safe to run again."""
    dataset = services.datafiles_register(dataset_id=dataset_id, files=files)
    return None if dataset is None else dataset.file_count


@shared_task
def send_release_notices() -> int:
    """Daily (beat): e-mail participants a month before their data becomes public."""
    return services.release_notices_send()


@shared_task
def sync_user_office() -> dict | None:
    """Periodic (beat): import the user office's export named by settings.USER_OFFICE_EXPORT."""
    if not settings.USER_OFFICE_EXPORT:
        return None
    return usersync.sync_file(settings.USER_OFFICE_EXPORT).counts()
