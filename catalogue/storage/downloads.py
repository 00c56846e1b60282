"""Single-file downloads, for the portal's route and the API's.

A file is found through the selectors (a hidden dataset answers like a missing one: 404), opened
only through catalogue.locations (its real path checked at open time: a link leading out serves
nothing), and streamed in blocks: the whole file (200) or one HTTP range (206, so that `curl -C -`
resumes a cut download). Several ranges in one request are answered with the whole file. The
answer carries the file's Last-Modified; a request with If-Range gets its range only while that
date still matches (a file changed since is sent whole). Each download served is one DownloadRecord.
"""

import mimetypes
import os
import re

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header, http_date
from django.views.decorators.http import require_safe
from django_sendfile import sendfile

from catalogue import selectors
from catalogue.access import Actor, actor_for
from catalogue.locations import PathRefused, open_dataset_file
from catalogue.models import Datafile, Dataset, DownloadRecord

NOT_ONLINE = "This dataset is not on disk (archived): it must be restored before its files can be downloaded."
NOT_ONLINE_ZIP = (
    "Not every dataset asked for is on disk (archived): they must be restored before they can be downloaded."
)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)


class NotOnline(Exception):
    """The dataset's files are not on main storage (archived, or being restored). `datasets`: the ids
    of those not online, when an archive of several was asked for (catalogue.storage.zips)."""

    def __init__(self, message: str = NOT_ONLINE, *, datasets=()):
        super().__init__(message)
        self.datasets = list(datasets)


class Unsatisfiable(Exception):
    """A range that starts past the file's end (or an empty suffix): 416."""


class DownloadResponse(FileResponse):
    block_size = 2**17  # 128 KiB per read and write: constant memory, few system calls


class _Slice:
    """At most `length` bytes of a file, from its current position. Without tell() or seek(), so that
    FileResponse leaves the Content-Length to the caller."""

    def __init__(self, file, length: int):
        self.file, self.left = file, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.file.read(size) if size else b""
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range of a Range header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) as (first, last),
    inclusive and clipped to the file. None, for the whole file: no header, a malformed one, another
    unit, several ranges, or last before first (RFC 9110 ignores those). Unsatisfiable: a range
    starting at or past the end, or a suffix of zero bytes."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        if int(last) == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - int(last)), size - 1
    if last != "" and int(last) < int(first):
        return None
    if int(first) >= size:
        raise Unsatisfiable
    return int(first), size - 1 if last == "" else min(int(last), size - 1)


def datafile_get(actor: Actor, pk: int, dataset_pk: int | None = None) -> Datafile:
    """The file, if the actor may read its dataset (one query, the dataset's access in SQL); else the
    same 404 as a missing one."""
    files = selectors.datafile_list(actor).select_related("dataset__investigation__instrument")
    if dataset_pk is not None:
        files = files.filter(dataset_id=dataset_pk)
    datafile = files.filter(pk=pk).first()
    if datafile is None:
        raise Http404("No such file.")
    return datafile


def _common(response: HttpResponse) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def download(request, actor: Actor, datafile: Datafile) -> HttpResponse:
    """The file's bytes as an attachment, whole or one range, recorded on a GET. NotOnline when the
    dataset is not on disk; Http404 when the file is not there or its real path leaves the dataset."""
    dataset = datafile.dataset
    if dataset.storage_status != Dataset.StorageStatus.ONLINE:
        raise NotOnline(NOT_ONLINE)
    try:
        file = open_dataset_file(dataset, datafile.path)
    except (OSError, PathRefused):
        raise Http404("The file is not on disk.") from None
    if settings.DOWNLOAD_SENDFILE:
        return _common(_handed_over(request, actor, datafile, file))
    try:
        info = os.fstat(file.fileno())
        size, modified = info.st_size, http_date(info.st_mtime)
        unchanged = request.headers.get("If-Range", modified) == modified
        wanted = byte_range(request.headers.get("Range", "") if unchanged else "", size)
        name = os.path.basename(datafile.path)
        if wanted is None:
            response, length = DownloadResponse(file, as_attachment=True, filename=name), size
        else:
            first, last = wanted
            length = last - first + 1
            file.seek(first)
            response = DownloadResponse(_Slice(file, length), status=206, as_attachment=True, filename=name)
            response["Content-Length"] = str(length)
            response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Last-Modified"] = modified
    except Unsatisfiable:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _common(response)
    except BaseException:
        file.close()
        raise
    if request.method == "GET":
        DownloadRecord.objects.create(
            user=actor.user if actor.is_person else None,
            kind=DownloadRecord.Kind.FILE,
            dataset_id=dataset.pk,
            datafile_id=datafile.pk,
            bytes=length,
        )
    return _common(response)


def _handed_over(request, actor: Actor, datafile: Datafile, file) -> HttpResponse:
    """settings.DOWNLOAD_SENDFILE: the web server sends the bytes (nginx's X-Accel-Redirect, Apache's
    X-Sendfile, through django-sendfile2), Range requests included. The file was opened through the
    real-path checks; the server is handed the real path that was opened (no link left in it), so
    that it reads what was checked (nginx: `disable_symlinks on` keeps it so)."""
    try:
        real = os.readlink(f"/proc/self/fd/{file.fileno()}") if os.path.exists("/proc/self/fd") else file.name
        size = os.fstat(file.fileno()).st_size
    finally:
        file.close()
    name = os.path.basename(datafile.path)
    response = sendfile(
        request,
        real,
        attachment=True,
        attachment_filename=name,
        mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
        content_length=size,
    )
    # Django's own header, as when it streams the file: one safe filename (RFC 6266 / 5987).
    response["Content-Disposition"] = content_disposition_header(True, name)
    if request.method == "GET":
        DownloadRecord.objects.create(
            user=actor.user if actor.is_person else None,
            kind=DownloadRecord.Kind.FILE,
            dataset_id=datafile.dataset_id,
            datafile_id=datafile.pk,
            bytes=size,
        )
    return response


@require_safe
def datafile_download(request, pk: int, file_pk: int):
    """The portal's route: /datasets/<pk>/files/<file_pk>/download/."""
    actor = actor_for(request)
    datafile = datafile_get(actor, file_pk, dataset_pk=pk)
    try:
        return download(request, actor, datafile)
    except NotOnline as exc:
        return _common(HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8"))
