"""File registration: a dataset's files upserted from a list or a scan of its location, with the
dataset for a short list, else by the worker through an outbox (PendingRegistration) that commits
with the dataset and is sent again if its message is lost."""

import logging
from datetime import datetime, timedelta
from itertools import islice

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from catalogue import locations
from catalogue.dispatch import task_send
from catalogue.models import Datafile, Dataset, PendingRegistration

logger = logging.getLogger(__name__)

FILE_BATCH = 5000


def _scan(dataset: Dataset, skipped: list[str]):
    """The files found under the dataset's location, as registration takes them. Links whose real
    path leaves the location are not followed but added to `skipped`; so is the whole location when
    its real path has left its investigation's folder since it was stored."""
    if not locations.dataset_is_in_place(dataset):
        skipped.append(".")
        return
    zone = timezone.get_current_timezone()
    for kind, found in locations.scan(dataset.location):
        if kind == "skipped":
            skipped.append(found)
            continue
        path, size, mtime = found
        yield {"path": path, "size": size, "modified": datetime.fromtimestamp(mtime, tz=zone)}


def datafile_row(item: dict) -> tuple:
    """(path, size, checksum, modified) of a file as given (its path normalised by dataset_store or
    datafiles_register) or found on disk."""
    modified = item.get("modified")
    if isinstance(modified, str):
        modified = datetime.fromisoformat(modified)
    if modified is not None and timezone.is_naive(modified):
        modified = timezone.make_aware(modified)  # as Django would store it
    return item["path"], int(item.get("size") or 0), item.get("checksum") or "", modified


# How many of the paths a scan skipped are named on the dataset's status.
SKIPPED_NAMED = 20


def datafiles_register(*, dataset_id: int, files: list | None = None) -> Dataset | None:
    """Bulk-insert the dataset's files (given, or found on disk), then update counts and size.
    A file already registered gets the new size, checksum and modification time. A scan skips
    what leads out of the location, and says so in the dataset's warnings."""
    with transaction.atomic():
        try:
            # With its investigation and instrument: a scan checks the location against their folder.
            dataset = (
                Dataset.objects.select_for_update(of=("self",))
                .select_related("investigation__instrument")
                .get(pk=dataset_id)
            )
        except Dataset.DoesNotExist:
            return None
        skipped: list[str] = []
        if files is not None:
            files = ({**item, "path": locations.normalise_file_path(item["path"])} for item in files)
        datafiles_upsert(dataset, map(datafile_row, files if files is not None else _scan(dataset, skipped)))
        if files is None:
            _warn_skipped(dataset, skipped)
    return dataset


def _warn_skipped(dataset: Dataset, skipped: list[str]) -> None:
    """Replace the scan's warning on the dataset (kept with lenient validation's)."""
    warnings = [w for w in dataset.warnings if w.get("field") != "files"]
    if skipped == ["."]:
        warnings.append(
            {
                "field": "files",
                "value": dataset.location,
                "rule": "the location's real path left its investigation's folder: nothing registered",
            }
        )
    elif skipped:
        warnings.append(
            {
                "field": "files",
                "value": sorted(skipped)[:SKIPPED_NAMED],
                "rule": f"{len(skipped)} links lead outside the dataset's location: not registered",
            }
        )
    if warnings != dataset.warnings:
        dataset.warnings = warnings
        dataset.save(update_fields=["warnings"])


def datafiles_upsert(dataset: Dataset, rows) -> None:
    """Upsert the (path, size, checksum, modified) rows as the dataset's files, then count them all
    and mark it complete. The caller holds the dataset's row lock."""
    if connection.vendor == "postgresql":
        _copy_datafiles(dataset.pk, rows)
    else:
        rows = iter(rows)  # islice over a list would start again from its head: an endless loop
        for batch in iter(lambda: list(islice(rows, FILE_BATCH)), []):
            _insert_datafiles(dataset.pk, batch)
    totals = Datafile.objects.filter(dataset_id=dataset.pk).aggregate(count=Count("id"), size=Sum("size"))
    dataset.file_count = totals["count"] or 0
    dataset.size = totals["size"] or 0
    dataset.complete = True
    dataset.save(update_fields=["file_count", "size", "complete", "modified"])


def datafiles_insert_new(rows: list[tuple]) -> None:
    """The files of datasets that have none yet, as (dataset_id, path, size, checksum, modified)
    rows unique by dataset and path: PostgreSQL copies them in (COPY), others insert them in batches."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(rows), FILE_BATCH):
            Datafile.objects.bulk_create(
                Datafile(dataset_id=dataset_id, path=path, size=size, checksum=checksum, modified=modified)
                for dataset_id, path, size, checksum, modified in rows[start : start + FILE_BATCH]
            )
        return
    with connection.cursor() as cursor:
        columns = "dataset_id, path, size, checksum, modified"
        with cursor.copy(f"COPY {Datafile._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _copy_datafiles(dataset_id: int, rows) -> None:
    """PostgreSQL: COPY into a temporary table, then one upsert; about twice bulk_create's rate,
    which builds a model instance per file. The table lives as long as the connection and is emptied
    at each commit: creating and dropping it for each dataset cost more than registering 100 files."""
    table = Datafile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS datafile_upload"
            " (n serial, path varchar(1024), size bigint, checksum varchar(128), modified timestamptz)"
            " ON COMMIT DELETE ROWS"
        )
        with cursor.copy("COPY datafile_upload (path, size, checksum, modified) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # DISTINCT ON: a path listed twice is stored once, as its last listing says.
        cursor.execute(
            f"INSERT INTO {table} (dataset_id, path, size, checksum, modified)"
            " SELECT DISTINCT ON (path) %s, path, size, checksum, modified FROM datafile_upload"
            " ORDER BY path, n DESC"
            " ON CONFLICT (dataset_id, path) DO UPDATE"
            " SET size = EXCLUDED.size, checksum = EXCLUDED.checksum, modified = EXCLUDED.modified",
            [dataset_id],
        )
        # Emptied now too: a caller's transaction may register several datasets.
        cursor.execute("DELETE FROM datafile_upload")


def _insert_datafiles(dataset_id: int, batch: list[tuple]) -> None:
    Datafile.objects.bulk_create(
        [
            Datafile(dataset_id=dataset_id, path=path, size=size, checksum=checksum, modified=modified)
            # A path listed twice is stored once, as its last listing says.
            for path, size, checksum, modified in {row[0]: row for row in batch}.values()
        ],
        update_conflicts=True,
        unique_fields=["dataset", "path"],
        update_fields=["size", "checksum", "modified"],
    )


def registration_queue(queued: list[tuple[Dataset, list | None]]) -> None:
    """Queue the registration of datasets' files (a long list, or None: a scan) within the caller's
    transaction: the outbox rows commit with the datasets, and the messages, sent on commit, only
    name the datasets."""
    PendingRegistration.objects.bulk_create(
        PendingRegistration(dataset=dataset, files=files) for dataset, files in queued
    )
    for dataset, _ in queued:
        transaction.on_commit(lambda dataset_id=dataset.pk: registration_send(dataset_id=dataset_id))


def registration_send(*, dataset_id: int) -> bool:
    """Queue the registration of what is pending for the dataset; False if the broker could not be
    reached. Nothing is lost then: the rows stay, and registrations_resend sends them again."""
    try:
        _send_registration(dataset_id)
    except KombuOperationalError:
        logger.warning("Registration of dataset %s not queued: broker unreachable; to be sent again.", dataset_id)
        return False
    return True


def _send_registration(dataset_id: int) -> None:
    task_send("catalogue.tasks.register_datafiles", dataset_id)


def registration_run(*, dataset_id: int) -> Dataset | None:
    """Register the dataset's pending file lists (or scans) and delete them, in one transaction.
    Idempotent: a message delivered again finds nothing pending and returns None."""
    with transaction.atomic():
        # Locked: a second delivery at the same time waits here, then finds the rows gone.
        pending = list(
            PendingRegistration.objects.select_for_update()
            .filter(dataset_id=dataset_id)
            .order_by("pk")
            .values_list("pk", "files")
        )
        dataset = None
        for _, files in pending:
            dataset = datafiles_register(dataset_id=dataset_id, files=files)
        if pending:
            PendingRegistration.objects.filter(pk__in=[pk for pk, _ in pending]).delete()
    return dataset


def registrations_resend(*, older_than: timedelta) -> int:
    """Send again the registrations pending for longer than older_than: their message was lost with
    the broker, or is held by a worker killed mid-task until the broker's visibility timeout.
    Returns how many datasets; raises the broker's error if it cannot be reached."""
    now = timezone.now()
    stale = PendingRegistration.objects.filter(sent__lt=now - older_than)
    dataset_ids = sorted(set(stale.values_list("dataset_id", flat=True)))
    sent: list[int] = []
    try:
        for dataset_id in dataset_ids:
            _send_registration(dataset_id)
            sent.append(dataset_id)
    finally:
        if sent:
            stale.filter(dataset_id__in=sent).update(sent=now, attempts=F("attempts") + 1)
    if sent:
        logger.warning("Sent again the registration of %d dataset(s): %s", len(sent), sent[:20])
    return len(sent)
