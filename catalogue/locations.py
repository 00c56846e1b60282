"""Where an investigation's data lie on disk, and the checks that keep every path inside them.

Each investigation has a data folder: `Investigation.data_folder` when staff or the user-office
sync set one, else settings.DATA_FOLDER_PATTERN filled in for each data root (the facility's
layout rule, e.g. `{root}/visitor/{proposal}/{instrument}/{start:%Y%m%d}`). A dataset's location
must lie inside its investigation's folder, and its files inside the location, compared by real
path (symlinks resolved), so that no link leads to another session's data or out of the roots.
"""

import os
import stat

from django.conf import settings
from django.utils import timezone

from .models import Investigation


class PathRefused(ValueError):
    """A path that is malformed, or whose real path leaves the folder it belongs to."""


def _slug(name: str) -> str:
    """How facilities write proposal and beamline names in paths: MX-1111 -> mx1111, ID30A-1 -> id30a1."""
    return "".join(c for c in name.lower() if c.isalnum())


def pattern_folder(investigation: Investigation, root) -> str:
    """settings.DATA_FOLDER_PATTERN for this investigation under one data root."""
    return settings.DATA_FOLDER_PATTERN.format(
        root=str(root).rstrip("/"),
        proposal=_slug(investigation.name),
        proposal_name=investigation.name,
        instrument=_slug(investigation.instrument.name),
        instrument_name=investigation.instrument.name,
        visit_id=investigation.visit_id,
        start=timezone.localtime(investigation.start_date),
        end=timezone.localtime(investigation.end_date),
    )


def investigation_folders(investigation: Investigation) -> list[str]:
    """The investigation's data folders, as written (not resolved): its own, or one per data root."""
    if investigation.data_folder:
        return [os.path.normpath(investigation.data_folder)]
    return [os.path.normpath(pattern_folder(investigation, root)) for root in settings.DATA_ROOTS]


def _inside(real: str, folder: str) -> bool:
    """Whether the real path `real` lies strictly inside the real path `folder`."""
    return real.startswith(folder.rstrip("/") + "/")


def inside_data_roots(path: str) -> bool:
    real = os.path.realpath(path)
    return any(_inside(real, os.path.realpath(root)) for root in settings.DATA_ROOTS)


def normalise_location(location: str) -> str:
    """The location as stored (its identity): absolute, normalised; PathRefused otherwise."""
    if not isinstance(location, str) or not location or "\x00" in location:
        raise PathRefused("must be an absolute path")
    path = os.path.normpath(location)
    if not path.startswith("/") or path.startswith("//"):
        raise PathRefused("must be an absolute path")
    return path


def location_in_investigation(location: str, investigation: Investigation) -> bool:
    """Whether the location's real path lies inside one of the investigation's folders, and those
    inside a data root (a staff-set folder is checked too)."""
    real = os.path.realpath(location)
    for folder in investigation_folders(investigation):
        folder_real = os.path.realpath(folder)
        if inside_data_roots(folder) and _inside(real, folder_real):
            return True
    return False


def dataset_is_in_place(dataset) -> bool:
    """A stored dataset's location still lies inside its investigation's folder (a link swapped
    in after it was stored, or a folder moved by staff, is caught here)."""
    return location_in_investigation(dataset.location, dataset.investigation)


def normalise_file_path(path) -> str:
    """A registered file's path: relative to the dataset's location, normalised (`a//b/./c` ->
    `a/b/c`); no `..`, no absolute path, not `.` alone, no NUL."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise PathRefused("must be a non-empty relative path")
    if path.startswith("/"):
        raise PathRefused("must be relative to the dataset's location")
    parts = [part for part in path.split("/") if part and part != "."]  # as PurePosixPath's parts, faster
    if ".." in parts:
        raise PathRefused("must not contain '..'")
    if not parts:
        raise PathRefused("must name a file inside the dataset's location")
    return "/".join(parts)


def escaping_files(location: str, paths) -> list[str]:
    """Of the given relative paths, those on disk whose real path leaves the location: a symlink,
    or a file under a linked folder. Files not on disk yet pass (nothing to follow). One realpath
    per distinct folder, and one lstat per file of a folder that is on disk."""
    base = os.path.realpath(location)
    folders: dict[str, bool | None] = {}  # inside the location (True), leading out (False), not on disk (None)
    escaping = []
    for path in paths:
        parent = path.rpartition("/")[0]
        if parent not in folders:
            folders[parent] = _folder_state(base, parent)
        inside = folders[parent]
        if inside is None:
            continue
        if not inside:
            escaping.append(path)
            continue
        full = f"{base}/{path}"
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode) and not _inside(os.path.realpath(full), base):
            escaping.append(path)
    return escaping


def _folder_state(base: str, parent: str) -> bool | None:
    """Whether the folder `parent` of the real location `base` stays inside it: None when it is not
    on disk (no file in it can lead anywhere)."""
    real = os.path.realpath(os.path.join(base, parent)) if parent else base
    if parent and not _inside(real, base):
        return False
    return True if os.path.isdir(real) else None


def scan(location: str):
    """The files under a location, for registration: (relative path, size, mtime) of each regular
    file, without following links out of it. Yields ("skipped", path) for a link that leaves it."""
    base = os.path.realpath(location)
    for directory, subdirs, names in os.walk(base):  # os.walk does not descend into linked folders
        for name in names + [d for d in subdirs if os.path.islink(os.path.join(directory, d))]:
            full = os.path.join(directory, name)
            relative = os.path.relpath(full, base)
            try:
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    target = os.path.realpath(full)
                    if not _inside(target, base):
                        yield "skipped", relative
                        continue
                    info = os.stat(target)
                    if not stat.S_ISREG(info.st_mode):
                        continue  # a link to a folder inside: its files are walked there
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield "file", (relative, info.st_size, info.st_mtime)


def open_dataset_file(dataset, path: str):
    """Open one of the dataset's files for reading, checking at open time that its real path lies
    inside the dataset's location and that the location lies inside its investigation's folder.
    A link made after registration serves nothing. PathRefused or OSError otherwise."""
    if not dataset_is_in_place(dataset):
        raise PathRefused("the dataset's location left its investigation's folder")
    base = os.path.realpath(dataset.location)
    real = os.path.realpath(os.path.join(base, normalise_file_path(path)))
    if not _inside(real, base):
        raise PathRefused("the file's real path leaves the dataset's location")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        # What was opened, not what was checked a moment before: a folder swapped for a link in
        # between shows here.
        opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else real
        if not _inside(opened, base) or not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathRefused("the file's real path leaves the dataset's location")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
