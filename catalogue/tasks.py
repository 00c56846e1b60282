from celery import shared_task

from . import services


@shared_task(acks_late=True)
def register_datafiles(dataset_id: int, files: list | None = None) -> int | None:
    """Register a dataset's files; idempotent (upsert by path), so safe to run again."""
    dataset = services.datafiles_register(dataset_id=dataset_id, files=files)
    return None if dataset is None else dataset.file_count
