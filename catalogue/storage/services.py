"""The storage writes: archiving datasets (by age, or by staff), restoring them at users' request,
and releasing restored data back to the archive once its time on disk is over.

Each status change is one transaction with its StorageEvent (who, when, why); tasks and e-mails go
out on commit. The archive's work (copies, tape mounts) runs outside any transaction, in the
worker: a dataset is marked ARCHIVED only once its copy is verified, and its files leave main
storage only after that is committed. A restore job may run twice (a message delivered again, a
worker killed mid-job): it picks up where it stopped, and ends once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from catalogue.dispatch import task_send
from catalogue.models import Datafile, Dataset, RestoreJob, RestoreRequest, StorageEvent

from .backends import ArchiveError, StoredFile, archive_backend

logger = logging.getLogger(__name__)

ONLINE, ARCHIVED, RESTORING = (
    Dataset.StorageStatus.ONLINE,
    Dataset.StorageStatus.ARCHIVED,
    Dataset.StorageStatus.RESTORING,
)
OPEN = (RestoreJob.State.QUEUED, RestoreJob.State.RUNNING)
PROGRESS_EVERY_SECONDS = 1.0


def stored_files(dataset: Dataset) -> list[StoredFile]:
    rows = Datafile.objects.filter(dataset=dataset).order_by("path").values_list("path", "size", "checksum")
    return [StoredFile(path, size, checksum) for path, size, checksum in rows.iterator(chunk_size=5000)]


def _event(dataset_id: int, status: str, reason: str, actor=None) -> StorageEvent:
    return StorageEvent(dataset_id=dataset_id, status=status, reason=reason[:500], actor=actor)


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


# --- Archive ----------------------------------------------------------------------------------
def dataset_archive(*, dataset_id: int, reason: str, actor=None) -> bool:
    """Copy the dataset to the archive, verify the copy, mark it ARCHIVED, then remove its files from
    main storage. False when there is nothing to do (not online, not complete, gone). A failed copy
    leaves the dataset online and says why in its history; ArchiveError is raised for the task."""
    dataset = (
        Dataset.objects.select_related("investigation__instrument")
        .filter(pk=dataset_id, storage_status=ONLINE, complete=True)
        .first()
    )
    if dataset is None:
        return False
    files, backend = stored_files(dataset), archive_backend()
    try:
        backend.archive(dataset, files)
    except ArchiveError as exc:
        StorageEvent.objects.create(
            dataset=dataset, status=ONLINE, actor=_user(actor), reason=f"Archiving failed, the data stay on disk: {exc}"
        )
        raise
    with transaction.atomic():
        if not Dataset.objects.filter(pk=dataset_id, storage_status=ONLINE).update(
            storage_status=ARCHIVED, online_until=None
        ):
            return False  # restored or archived meanwhile
        _event(dataset_id, ARCHIVED, reason, _user(actor)).save()
    backend.purge(dataset, files)
    return True


def datasets_archive_request(*, dataset_ids: list[int], reason: str, actor=None) -> int:
    """Queue the archiving of these datasets (once committed); returns how many were queued."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required to archive data")
    ids = list(
        Dataset.objects.filter(pk__in=dataset_ids, storage_status=ONLINE, complete=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    actor_id = _user(actor).pk if _user(actor) else None

    def send():
        for dataset_id in ids:
            task_send("catalogue.tasks.archive_dataset", dataset_id, reason, actor_id)

    transaction.on_commit(send)
    return len(ids)


def archive_due(*, now: datetime | None = None) -> int:
    """Queue the archiving of complete, online datasets that ended more than
    settings.STORAGE_ARCHIVE_AFTER_DAYS ago (never restored ones: those are released back by
    restored_release). Up to settings.STORAGE_ARCHIVE_BATCH per run."""
    days = settings.STORAGE_ARCHIVE_AFTER_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    due = (
        Dataset.objects.filter(storage_status=ONLINE, complete=True, online_until__isnull=True)
        .annotate(ended=Coalesce("end_date", "start_date", "created"))
        .filter(ended__lt=cutoff)
        .order_by("ended", "pk")
        .values_list("pk", flat=True)[: settings.STORAGE_ARCHIVE_BATCH]
    )
    return datasets_archive_request(
        dataset_ids=list(due), reason=f"Archived by the schedule: ended more than {days} days ago"
    )


def restored_release(*, now: datetime | None = None) -> int:
    """Release restored data whose time online is over back to ARCHIVED (their archive copy is
    kept), removing their files from main storage. Returns how many datasets."""
    now = now or timezone.now()
    backend, released = archive_backend(), 0
    due = Dataset.objects.filter(storage_status=ONLINE, online_until__lt=now).select_related("investigation")
    for dataset in due.order_by("pk")[: settings.STORAGE_ARCHIVE_BATCH]:
        if not backend.is_archived(dataset):
            logger.warning("Dataset %s stays online: the archive does not hold it.", dataset.pk)
            Dataset.objects.filter(pk=dataset.pk).update(online_until=None)
            continue
        with transaction.atomic():
            if not Dataset.objects.filter(pk=dataset.pk, storage_status=ONLINE, online_until__lt=now).update(
                storage_status=ARCHIVED, online_until=None
            ):
                continue
            _event(
                dataset.pk, ARCHIVED, "Released back to the archive: its time on disk after the restore is over"
            ).save()
        backend.purge(dataset, stored_files(dataset))
        released += 1
    return released


# --- Restore ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreSummary:
    queued: int  # restores started by this request
    joined: int  # restores already under way, which this request now waits for too
    online: int  # on disk already

    @property
    def message(self) -> str:
        parts = []
        if self.queued or self.joined:
            count = self.queued + self.joined
            parts.append(
                f"{count} dataset{'s' if count != 1 else ''} will be restored from the archive; "
                "you will get an e-mail when the data are online."
            )
        if self.online:
            parts.append(f"{self.online} dataset{'s are' if self.online != 1 else ' is'} online already.")
        return " ".join(parts) or "Nothing to restore."


def restore_request(*, user, datasets: QuerySet[Dataset]) -> RestoreSummary:
    """Ask for these datasets (already filtered by the access policy) to be online. An archived one
    gets a restore job; one being restored gets this user as one more requester of its job (one
    restore, one e-mail each); an online one that was restored stays online longer."""
    now = timezone.now()
    batch = uuid.uuid4()
    with transaction.atomic():
        rows = list(
            datasets.select_for_update(of=("self",)).order_by("pk").values_list("pk", "storage_status", "online_until")
        )
        online = [pk for pk, status, _ in rows if status == ONLINE]
        Dataset.objects.filter(pk__in=[pk for pk, _, until in rows if pk in online and until]).update(
            online_until=Greatest("online_until", now + timedelta(days=settings.STORAGE_ONLINE_DAYS))
        )
        waiting = [pk for pk, status, _ in rows if status != ONLINE]
        jobs = dict(RestoreJob.objects.filter(dataset_id__in=waiting, state__in=OPEN).values_list("dataset_id", "pk"))
        # Restoring without an open job cannot happen through this module; a new job repairs it.
        new = RestoreJob.objects.bulk_create(
            [RestoreJob(dataset_id=pk, requested=now, heartbeat=now) for pk in waiting if pk not in jobs]
        )
        new_ids = [job.pk for job in new]
        if not all(new_ids):  # backends that do not return ids from a bulk insert
            new_ids = list(
                RestoreJob.objects.filter(dataset_id__in=[j.dataset_id for j in new], state__in=OPEN).values_list(
                    "pk", flat=True
                )
            )
        Dataset.objects.filter(pk__in=[job.dataset_id for job in new]).update(storage_status=RESTORING)
        StorageEvent.objects.bulk_create(
            [_event(job.dataset_id, RESTORING, f"Restore requested by {user.get_username()}", user) for job in new]
        )
        RestoreRequest.objects.bulk_create(
            [RestoreRequest(job_id=pk, user=user, batch=batch, requested=now) for pk in [*jobs.values(), *new_ids]],
            ignore_conflicts=True,  # this user asked already: the first request stands
        )
        transaction.on_commit(lambda: _send_restores(sorted(new_ids)))
    return RestoreSummary(queued=len(new_ids), joined=len(jobs), online=len(online))


def _send_restores(job_ids: list[int]) -> None:
    """Queue the jobs' tasks in the order requested. A broker out of reach loses nothing: the jobs
    stay queued, and restores_resend sends them again."""
    try:
        for job_id in job_ids:
            task_send("catalogue.tasks.restore_dataset", job_id)
    except KombuOperationalError:
        logger.warning("Restores %s not queued: broker unreachable; to be sent again.", job_ids[:20])


def restores_resend(*, older_than: timedelta) -> int:
    """Send again the open jobs with no sign of life for older_than: their message was lost with the
    broker, or held by a worker that died. Returns how many."""
    now = timezone.now()
    stale = list(
        RestoreJob.objects.filter(state__in=OPEN, heartbeat__lt=now - older_than)
        .order_by("requested", "pk")
        .values_list("pk", flat=True)
    )
    for job_id in stale:
        task_send("catalogue.tasks.restore_dataset", job_id)
        RestoreJob.objects.filter(pk=job_id).update(heartbeat=now)
    if stale:
        logger.warning("Sent again %d restore(s): %s", len(stale), stale[:20])
    return len(stale)


class _ProgressWriter:
    """Counts the files and bytes back, written to the job at most once a second (and at the end)."""

    def __init__(self, job_id: int):
        self.job_id, self.files, self.bytes, self.last = job_id, 0, 0, time.monotonic()

    def __call__(self, files: int, size: int) -> None:
        self.files += files
        self.bytes += size
        if time.monotonic() - self.last >= PROGRESS_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        RestoreJob.objects.filter(pk=self.job_id).update(
            files_done=self.files, bytes_done=self.bytes, heartbeat=timezone.now()
        )
        self.last = time.monotonic()


def restore_run(*, job_id: int) -> RestoreJob | None:
    """Run the job: files come back from the archive (those back already are counted, not copied
    again), then the dataset is ONLINE until settings.STORAGE_ONLINE_DAYS from now and its
    requesters are notified. None when the job has ended already (a message delivered again).
    ArchiveError (or any error of the backend) propagates for the task to retry."""
    job = RestoreJob.objects.select_related("dataset__investigation").filter(pk=job_id, state__in=OPEN).first()
    if job is None:
        return None
    files = stored_files(job.dataset)
    RestoreJob.objects.filter(pk=job_id).update(
        state=RestoreJob.State.RUNNING,
        started=Coalesce("started", timezone.now()),
        heartbeat=timezone.now(),
        attempts=F("attempts") + 1,
        files_total=len(files),
        bytes_total=sum(file.size for file in files),
        files_done=0,
        bytes_done=0,
        error="",
    )
    progress = _ProgressWriter(job_id)
    archive_backend().restore(job.dataset, files, progress)
    progress.flush()
    return _restore_end(job_id, done=True)


def restore_fail(*, job_id: int, error: str) -> RestoreJob | None:
    """The job failed for good (its retries spent): the dataset goes back to ARCHIVED, the error
    goes to its history, and its requesters are told."""
    return _restore_end(job_id, done=False, error=error)


def _restore_end(job_id: int, *, done: bool, error: str = "") -> RestoreJob | None:
    now = timezone.now()
    with transaction.atomic():
        job = RestoreJob.objects.select_for_update().filter(pk=job_id, state__in=OPEN).first()
        if job is None:
            return None
        job.state, job.finished, job.error = (RestoreJob.State.DONE if done else RestoreJob.State.FAILED), now, error
        if done:
            job.files_done, job.bytes_done = job.files_total, job.bytes_total
        job.save(update_fields=["state", "finished", "error", "files_done", "bytes_done"])
        if done:
            until = now + timedelta(days=settings.STORAGE_ONLINE_DAYS)
            Dataset.objects.filter(pk=job.dataset_id).update(storage_status=ONLINE, online_until=until)
            reason = f"Restored from the archive; on disk until {until:%Y-%m-%d}"
        else:
            Dataset.objects.filter(pk=job.dataset_id).update(storage_status=ARCHIVED)
            reason = f"Restore failed: {error}"
        _event(job.dataset_id, ONLINE if done else ARCHIVED, reason).save()
        _notify_batches(job, now)
    return job


def _notify_batches(job: RestoreJob, now: datetime) -> None:
    """E-mail each requester whose batch has now ended (every job of it done or failed): one e-mail
    per batch, listing what is online and what failed. The batch's rows are locked first, so that
    of two jobs of a batch ending at once, the later one sees the other's end and sends."""
    batches = set(RestoreRequest.objects.filter(job=job, notified__isnull=True).values_list("batch", flat=True))
    if not batches:
        return
    requests = list(
        RestoreRequest.objects.select_for_update()
        .filter(batch__in=batches, notified__isnull=True)
        .order_by("pk")
        .values_list("pk", "batch")
    )
    unfinished = set(
        RestoreRequest.objects.filter(batch__in=batches, job__state__in=OPEN)
        .exclude(job=job)
        .values_list("batch", flat=True)
    )
    ended = [pk for pk, batch in requests if batch not in unfinished]
    if not ended:
        return
    RestoreRequest.objects.filter(pk__in=ended).update(notified=now)
    rows = (
        RestoreRequest.objects.filter(pk__in=ended)
        .select_related("user", "job__dataset")
        .order_by("user_id", "batch", "job__dataset__name")
    )
    messages: dict[tuple, list[RestoreRequest]] = {}
    for request in rows:
        messages.setdefault((request.user_id, request.batch), []).append(request)
    mails = [_restore_mail(requests) for requests in messages.values() if requests[0].user.email]
    transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=False))


def _restore_mail(requests: list[RestoreRequest]) -> tuple[str, str, str, list[str]]:
    user = requests[0].user
    done = [r.job for r in requests if r.job.state == RestoreJob.State.DONE]
    failed = [r.job for r in requests if r.job.state != RestoreJob.State.DONE]
    lines = [f"Dear {user.get_full_name() or user.get_username()},", ""]
    if done:
        days = settings.STORAGE_ONLINE_DAYS
        lines += [f"The data you asked for are online, for {days} days from now:", ""]
        lines += [f"- {job.dataset.name}: {settings.PORTAL_URL}{job.dataset.get_absolute_url()}" for job in done]
        lines.append("")
    if failed:
        lines += ["These could not be restored from the archive; the facility's staff have been told:", ""]
        lines += [f"- {job.dataset.name}: {job.error}" for job in failed]
        lines.append("")
    lines.append(f"Your requests: {settings.PORTAL_URL}{reverse('my-requests')}")
    subject = "Your data are online" if not failed else "Your restore request has ended"
    return subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email]
