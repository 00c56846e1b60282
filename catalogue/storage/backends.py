"""The archive behind main storage, as ICAT's IDS sees it: main storage is the disk the portal
serves from (each dataset's location); the archive ("tape") holds a copy that outlives it.

One interface, two backends, chosen by settings.STORAGE_BACKEND:
- FilesystemArchive: a folder standing for tape, one sub-folder per dataset, with a delay per
  restore like a tape mount. The demo's and the tests'.
- CommandArchive: the facility's HSM driven by configured commands (IBM Storage Protect's
  `dsmc archive` / `dsmc retrieve` / `dsmc query`), run without a shell and with a timeout.

Both copy, verify and remove only the dataset's registered files, and both write to main storage
only below the dataset's location, its real path checked (catalogue.locations): a link planted in
the location never leads a restore or a removal elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

from catalogue.locations import PathRefused, dataset_is_in_place, normalise_file_path, open_dataset_file

BLOCK = 2**20
# Called as files are done: (files, bytes) since the last call.
Progress = Callable[[int, int], None]


class ArchiveError(Exception):
    """The archive could not do what was asked; the message says what, for the dataset's history."""


@dataclass(frozen=True)
class StoredFile:
    """A registered file as the archive needs it."""

    path: str
    size: int
    checksum: str = ""


def _no_progress(files: int, size: int) -> None:
    pass


# --- Checksums --------------------------------------------------------------------------------
class _Adler32:
    def __init__(self):
        self.value = 1

    def update(self, data: bytes) -> None:
        self.value = zlib.adler32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


_ALGORITHMS = {"adler32": _Adler32, "md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
_BY_LENGTH = {8: "adler32", 32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


def checksum_hasher(checksum: str):
    """(a new hasher, the expected hex digest) for a registered checksum: `algorithm:hex`, or bare
    hex whose length names the algorithm. None when there is nothing to check (or it is unknown)."""
    algorithm, _, digest = checksum.strip().lower().rpartition(":")
    algorithm = algorithm or _BY_LENGTH.get(len(digest), "")
    if algorithm == "sha512":
        return hashlib.sha512(), digest
    factory = _ALGORITHMS.get(algorithm)
    return (factory(), digest) if factory and digest else None


# --- Main storage: the dataset's location -----------------------------------------------------
def _location(dataset) -> str:
    if not dataset_is_in_place(dataset):
        raise ArchiveError("the dataset's location left its investigation's folder")
    return os.path.realpath(dataset.location)


def _main_path(base: str, path: str, *, create_parents: bool = False) -> str:
    """The file's path on main storage, its folder's real path inside the location (created with
    create_parents). The file itself is never followed if it is a link."""
    relative = normalise_file_path(path)
    folder = os.path.join(base, os.path.dirname(relative))
    if create_parents:
        os.makedirs(folder, exist_ok=True)
    real_folder = os.path.realpath(folder)
    if real_folder != base and not real_folder.startswith(base + os.sep):
        raise PathRefused(f"{path}: its folder leads out of the dataset's location")
    return os.path.join(real_folder, os.path.basename(relative))


def files_on_disk(dataset, files: Iterable[StoredFile]) -> bool:
    """Whether every file is on main storage as a regular file of its registered size."""
    try:
        base = _location(dataset)
        for file in files:
            if not file_on_disk_at(_main_path(base, file.path), file.size):
                return False
    except (OSError, PathRefused, ArchiveError):
        return False
    return True


def file_on_disk_at(path: str, size: int) -> bool:
    """A regular file (not a link) of this size at path."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == size


def remove_from_disk(dataset, files: Iterable[StoredFile]) -> int:
    """Remove the files from main storage (a link is removed, never what it points at); returns how
    many were there. Folders are left: the location is the dataset's identity."""
    base, removed = _location(dataset), 0
    for file in files:
        try:
            os.unlink(_main_path(base, file.path))
            removed += 1
        except FileNotFoundError:
            pass
        except PathRefused:
            continue
    return removed


def _copy(source, target_path: str, file: StoredFile) -> None:
    """Copy an open file to target_path through a temporary name, checking size and checksum."""
    check = checksum_hasher(file.checksum)
    temporary = f"{target_path}.part-{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    written = 0
    try:
        with os.fdopen(fd, "wb") as target:
            while block := source.read(BLOCK):
                target.write(block)
                written += len(block)
                if check:
                    check[0].update(block)
            target.flush()
            os.fsync(target.fileno())
        if written != file.size:
            raise ArchiveError(f"{file.path}: {written} bytes copied, {file.size} registered")
        if check and check[0].hexdigest() != check[1]:
            raise ArchiveError(f"{file.path}: checksum {check[0].hexdigest()}, {check[1]} registered")
        os.replace(temporary, target_path)
    except BaseException:
        with _ignored():
            os.unlink(temporary)
        raise


class _ignored:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


# --- The interface ----------------------------------------------------------------------------
class ArchiveBackend:
    """What the services need of an archive. `archive` must leave a verified copy (raising
    ArchiveError otherwise) and remove nothing: the caller removes the files from main storage
    (`purge`) once the new status is committed. `restore` must be idempotent: a restore cut short
    and run again completes the job without copying again what is already back."""

    def archive(self, dataset, files: list[StoredFile], progress: Progress = _no_progress) -> None:
        raise NotImplementedError

    def restore(self, dataset, files: list[StoredFile], progress: Progress = _no_progress) -> None:
        raise NotImplementedError

    def is_archived(self, dataset) -> bool:
        raise NotImplementedError

    def is_online(self, dataset, files: list[StoredFile]) -> bool:
        return files_on_disk(dataset, files)

    def purge(self, dataset, files: list[StoredFile]) -> int:
        return remove_from_disk(dataset, files)

    def open(self, datafile):
        """A file of main storage, for reading (its real path checked at open time)."""
        return open_dataset_file(datafile.dataset, datafile.path)


class FilesystemArchive(ArchiveBackend):
    """A folder standing for tape: <root>/<dataset id>/<file path>, with `delay` seconds per
    restore standing for the tape's mount."""

    def __init__(self, root: Path | str | None = None, delay: float | None = None):
        self.root = Path(root or settings.STORAGE_ARCHIVE_ROOT)
        self.delay = settings.STORAGE_RESTORE_DELAY if delay is None else delay

    def folder(self, dataset) -> Path:
        return self.root / str(dataset.pk)

    def _archive_path(self, dataset, path: str) -> Path:
        return self.folder(dataset) / normalise_file_path(path)

    def archive(self, dataset, files, progress=_no_progress):
        for file in files:
            target = self._archive_path(dataset, file.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                source = open_dataset_file(dataset, file.path)
            except (OSError, PathRefused) as exc:
                raise ArchiveError(f"{file.path}: not readable on disk ({exc})") from exc
            with source:
                _copy(source, str(target), file)
            progress(1, file.size)

    def restore(self, dataset, files, progress=_no_progress):
        if self.delay:
            time.sleep(self.delay)  # the tape's mount
        base = _location(dataset)
        for file in files:
            target = _main_path(base, file.path, create_parents=True)
            if file_on_disk_at(target, file.size):
                progress(1, file.size)  # back already: a run cut short is resumed, not redone
                continue
            try:
                source = open(self._archive_path(dataset, file.path), "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise ArchiveError(f"{file.path}: not in the archive ({exc})") from exc
            with source:
                _copy(source, target, file)
            progress(1, file.size)

    def is_archived(self, dataset) -> bool:
        return self.folder(dataset).is_dir()


class CommandArchive(ArchiveBackend):
    """The facility's HSM, driven by command templates (settings.STORAGE_*_COMMAND): a list of
    arguments each formatted with {location}, {archive} (the dataset's place in the archive: the
    archive root / its id), {dataset} (its id). Run without a shell, with a timeout; a non-zero exit
    or a timeout is an ArchiveError carrying the command's last output."""

    def __init__(self, archive=None, restore=None, status=None, timeout=None, root=None):
        self.commands = {
            "archive": archive if archive is not None else settings.STORAGE_ARCHIVE_COMMAND,
            "restore": restore if restore is not None else settings.STORAGE_RESTORE_COMMAND,
            "status": status if status is not None else settings.STORAGE_STATUS_COMMAND,
        }
        self.timeout = timeout or settings.STORAGE_COMMAND_TIMEOUT
        self.root = Path(root or settings.STORAGE_ARCHIVE_ROOT)

    def _run(self, name: str, dataset) -> subprocess.CompletedProcess:
        template = self.commands[name]
        if not template:
            raise ArchiveError(f"no {name} command is configured (settings.STORAGE_{name.upper()}_COMMAND)")
        values = {"location": _location(dataset), "archive": str(self.root / str(dataset.pk)), "dataset": dataset.pk}
        arguments = [part.format(**values) for part in template]
        try:
            return subprocess.run(
                arguments, capture_output=True, timeout=self.timeout, stdin=subprocess.DEVNULL, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ArchiveError(f"{name} command timed out after {self.timeout} s") from exc
        except OSError as exc:
            raise ArchiveError(f"{name} command could not start: {exc}") from exc

    def _checked(self, name: str, dataset) -> None:
        result = self._run(name, dataset)
        if result.returncode != 0:
            output = (result.stderr or result.stdout or b"").decode(errors="replace").strip()[-300:]
            raise ArchiveError(f"{name} command exited with {result.returncode}: {output}")

    def archive(self, dataset, files, progress=_no_progress):
        self._checked("archive", dataset)
        if not self.is_archived(dataset):
            raise ArchiveError("the archive does not hold the dataset after the archive command")
        progress(len(files), sum(file.size for file in files))

    def restore(self, dataset, files, progress=_no_progress):
        self._checked("restore", dataset)
        if not files_on_disk(dataset, files):
            raise ArchiveError("files are missing or of the wrong size after the restore command")
        progress(len(files), sum(file.size for file in files))

    def is_archived(self, dataset) -> bool:
        return self._run("status", dataset).returncode == 0


BACKENDS = {"filesystem": FilesystemArchive, "command": CommandArchive}


def archive_backend() -> ArchiveBackend:
    """The configured backend: a name of BACKENDS, or the dotted path of an ArchiveBackend class."""
    name = settings.STORAGE_BACKEND
    backend = BACKENDS.get(name) or import_string(name)
    return backend()
