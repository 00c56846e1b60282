"""Datasets as one ZIP, streamed while it is built: a dataset, an investigation, a list of datasets
or a user's selection (catalogue.storage.selection).

The archive is written by zipstream-ng, stored (no compression: data files are compressed already, or
huge), with ZIP64 where needed (members over 4 GB, archives over 4 GB or 65,535 members), and no
temporary file. One folder per dataset, named from its name and id (`scan_1_42/`), holding its files
by their registered paths; `MANIFEST.tsv` at the root lists every member's path, size and checksum.

Memory stays flat whatever the bytes: the files' rows are read from the database in keyset chunks
(dataset, path) and each file is opened only when its turn comes, through
catalogue.locations.open_dataset_file (its real path checked at that moment), then read in blocks.
What grows with the number of files is only the central directory the ZIP ends with (about 150 bytes
a file, kept compact here).

The Content-Length is computed before the first byte from the registered sizes: a file whose size on
disk differs from its registration, or that cannot be opened any more, stops the stream (the client
sees a cut download, the log says which file) rather than sending an archive unlike the promise.
Datasets not online are never half-downloaded: NotOnline, before anything is sent.
"""

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from zipstream import ZipStream
from zipstream.ng import _sanitize_arcname

from catalogue.access import Actor
from catalogue.locations import PathRefused, open_dataset_file
from catalogue.models import Datafile, Dataset, DownloadRecord

from .downloads import NOT_ONLINE_ZIP, NotOnline

logger = logging.getLogger(__name__)

MANIFEST = "MANIFEST.tsv"
MANIFEST_HEADER = "path\tsize\tchecksum\tdataset_id\n"
READ_BLOCK = 2**20  # bytes read from a file at a time
WRITE_BLOCK = 2**18  # small pieces (headers, descriptors, small files) are sent together up to this
ROWS_CHUNK = 2000  # file rows read from the database at a time
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ZipAborted(Exception):
    """A file could not be sent as the archive promised: the stream stops."""


def dataset_folder(dataset_id: int, name: str) -> str:
    """The dataset's folder inside the archive: its name with anything but letters, digits, `._-`
    replaced, no leading dot, at most 80 characters, then its id (unique, whatever the names)."""
    safe = _UNSAFE.sub("_", name).strip("._")[:80].rstrip("._")
    return f"{safe or 'dataset'}_{dataset_id}"


def member_path(folder: str, path: str) -> str:
    """A file's name in the archive. Registered paths are normalised (no `..`, not absolute); a
    backslash, which unzip tools on Windows read as a separator, is replaced so that no member can
    climb out of its folder."""
    return f"{folder}/{path.replace(chr(92), '_')}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def manifest_line(arcname: str, size: int, checksum: str, dataset_id: int) -> bytes:
    return f"{_escape(arcname)}\t{size}\t{_escape(checksum)}\t{dataset_id}\n".encode()


# --- The rows ---------------------------------------------------------------------------------


def _file_rows(dataset_ids: list[int]) -> Iterator[tuple[int, str, int, str]]:
    """(dataset_id, path, size, checksum) of the datasets' files in (dataset, path) order, read in
    keyset chunks over the unique index (dataset, path): constant memory, each chunk one query."""
    files = Datafile.objects.filter(dataset_id__in=dataset_ids).order_by("dataset_id", "path")
    columns = ("dataset_id", "path", "size", "checksum")
    last = None
    while True:
        chunk = files
        if last is not None:
            table = Datafile._meta.db_table
            after = RawSQL(f'("{table}"."dataset_id", "{table}"."path") > (%s, %s)', last, BooleanField())
            chunk = chunk.filter(after)
        rows = list(chunk.values_list(*columns)[:ROWS_CHUNK])
        yield from rows
        if len(rows) < ROWS_CHUNK:
            return
        last = rows[-1][:2]


# --- The stream ---------------------------------------------------------------------------------


class _Entry:
    """What the central directory needs of a member, once it is written: its record's bytes."""

    __slots__ = ("_record",)

    def __init__(self, record: bytes):
        self._record = record

    def _central_directory_header_data(self) -> bytes:
        return self._record


class _CompactZipStream(ZipStream):
    """zipstream-ng's stream keeping each written member as its central directory record only (about
    150 bytes) rather than a ZipInfo (about 600): the one part of the archive's memory that grows
    with the number of files."""

    def _gen_file_entry(self, **kwargs):
        yield from super()._gen_file_entry(**kwargs)
        info = self._filelist[-1]
        self._filelist[-1] = _Entry(info._central_directory_header_data())


def _file_blocks(dataset: Dataset, path: str, size: int) -> Iterator[bytes]:
    """The file's bytes in blocks, opened when first asked for (one file open at a time) and only
    through open_dataset_file; exactly `size` bytes, or ZipAborted."""
    try:
        file = open_dataset_file(dataset, path)
    except (OSError, PathRefused) as exc:
        raise ZipAborted(f"dataset {dataset.pk}: {path!r} cannot be opened ({exc})") from exc
    with file:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        actual = os.fstat(file.fileno()).st_size
        if actual != size:
            raise ZipAborted(f"dataset {dataset.pk}: {path!r} has {actual} bytes on disk, {size} registered")
        left = size
        while left:
            block = file.read(min(READ_BLOCK, left))
            if not block:
                raise ZipAborted(f"dataset {dataset.pk}: {path!r} ended {left} bytes early")
            left -= len(block)
            yield block


@dataclass
class ZipPlan:
    """What the archive will hold, counted before its first byte."""

    datasets: dict[int, Dataset]
    folders: dict[int, str]
    files: int = 0
    bytes: int = 0  # the files' registered sizes
    length: int = 0  # of the whole archive
    manifest_size: int = 0


def plan(datasets: Iterable[Dataset]) -> ZipPlan:
    """One pass over the files' rows: counts, the manifest's size and the archive's exact length
    (zipstream-ng's own arithmetic, from the member names and sizes)."""
    by_id = {dataset.pk: dataset for dataset in sorted(datasets, key=lambda d: d.pk)}
    folders = {pk: dataset_folder(pk, dataset.name) for pk, dataset in by_id.items()}
    result = ZipPlan(by_id, folders)
    sizer = ZipStream(sized=True)
    for folder in folders.values():
        sizer._add_size_from_file(folder + "/", 0)
    manifest = len(MANIFEST_HEADER.encode())
    for dataset_id, path, size, checksum in _file_rows(list(by_id)):
        arcname = member_path(folders[dataset_id], path)
        sizer._add_size_from_file(_sanitize_arcname(arcname), size)
        manifest += len(manifest_line(arcname, size, checksum, dataset_id))
        result.files += 1
        result.bytes += size
    sizer._add_size_from_file(MANIFEST, manifest)
    result.manifest_size, result.length = manifest, len(sizer)
    return result


def _manifest(zip_plan: ZipPlan) -> Iterator[bytes]:
    """The manifest's lines, from a last pass over the rows, in blocks."""
    lines, buffered = [MANIFEST_HEADER.encode()], 0
    written = 0
    for dataset_id, path, size, checksum in _file_rows(list(zip_plan.datasets)):
        line = manifest_line(member_path(zip_plan.folders[dataset_id], path), size, checksum, dataset_id)
        lines.append(line)
        buffered += len(line)
        if buffered >= WRITE_BLOCK:
            block = b"".join(lines)
            written += len(block)
            yield block
            lines, buffered = [], 0
    block = b"".join(lines)
    written += len(block)
    if written != zip_plan.manifest_size:
        raise ZipAborted("the datasets' files changed while the archive was sent")
    yield block


def stream(zip_plan: ZipPlan) -> Iterator[bytes]:
    """The archive's bytes: folders, then each dataset's files in path order, the manifest, the
    central directory. Members are added to the stream a chunk of rows at a time, so that neither the
    rows nor the queue of members grow with the dataset."""
    archive = _CompactZipStream(sized=False)
    rows = _file_rows(list(zip_plan.datasets))
    sent = 0
    pending: list[bytes] = []
    pending_size = 0

    def emit(pieces) -> Iterator[bytes]:
        nonlocal sent, pending, pending_size
        for piece in pieces:
            if len(piece) >= WRITE_BLOCK:
                if pending:
                    yield b"".join(pending)
                    pending, pending_size = [], 0
                sent += len(piece)
                yield piece
                continue
            pending.append(piece)
            pending_size += len(piece)
            sent += len(piece)
            if pending_size >= WRITE_BLOCK:
                yield b"".join(pending)
                pending, pending_size = [], 0

    try:
        for folder in zip_plan.folders.values():
            archive.mkdir(folder)
        yield from emit(archive.all_files())
        while True:
            batch = 0
            for dataset_id, path, size, _ in rows:
                dataset = zip_plan.datasets[dataset_id]
                arcname = member_path(zip_plan.folders[dataset_id], path)
                archive.add(_file_blocks(dataset, path, size), arcname, size=size)
                batch += 1
                if batch == 100:
                    break
            if not batch:
                break
            yield from emit(archive.all_files())
        archive.add(_manifest(zip_plan), MANIFEST, size=zip_plan.manifest_size)
        yield from emit(archive.finalize())
        if pending:
            yield b"".join(pending)
        if sent != zip_plan.length:
            raise ZipAborted(f"sent {sent} bytes, {zip_plan.length} promised")
    except ZipAborted as exc:
        logger.error("ZIP download stopped: %s", exc)
        raise


# --- The response -------------------------------------------------------------------------------


def zip_datasets(datasets: QuerySet[Dataset]) -> list[Dataset]:
    """The datasets as the archive needs them (with the investigation and instrument that
    open_dataset_file checks the location against), by id; one query. NotOnline, naming those not
    online, when any is archived or being restored."""
    found = list(
        Dataset.objects.filter(pk__in=datasets.values("pk"))
        .select_related("investigation__instrument")
        .defer("parameters", "description", "warnings", "investigation__summary")
        .order_by("pk")
    )
    offline = [dataset.pk for dataset in found if dataset.storage_status != Dataset.StorageStatus.ONLINE]
    if offline:
        raise NotOnline(NOT_ONLINE_ZIP, datasets=offline)
    return found


def zip_response(request, actor: Actor, datasets: QuerySet[Dataset], *, filename: str, kind: str) -> HttpResponse:
    """The datasets (already filtered by the access policy) as one streamed ZIP attachment named
    `filename`, recorded as one DownloadRecord of `kind` (a DownloadRecord.Kind) on a GET. NotOnline
    before anything is sent when any of them is not online."""
    return zip_stream_response(request, actor, zip_datasets(datasets), filename=filename, kind=kind)


def zip_stream_response(request, actor: Actor, found: list[Dataset], *, filename: str, kind: str) -> HttpResponse:
    """zip_response for datasets already read by zip_datasets."""
    zip_plan = plan(found)
    if not filename.lower().endswith(".zip"):
        filename += ".zip"
    body = stream(zip_plan) if request.method != "HEAD" else iter(())
    response = StreamingHttpResponse(body, content_type="application/zip")
    response["Content-Length"] = str(zip_plan.length)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if request.method == "GET":
        investigations = {dataset.investigation_id for dataset in found}
        DownloadRecord.objects.create(
            user=actor.user if actor.is_person else None,
            kind=kind,
            dataset_id=found[0].pk if len(found) == 1 else None,
            investigation_id=investigations.pop() if len(investigations) == 1 else None,
            datasets=len(found),
            bytes=zip_plan.bytes,
        )
    return response
