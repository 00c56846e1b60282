"""Item 8 of the benchmark: the bytes' way out, through gunicorn with the production settings on
loopback, each rate as a ratio to reading the same bytes from disk in the same run (taking turns):
a single file's download, a dataset's ZIP, the gunicorn worker's peak memory during a 5 GB ZIP,
and the restore queue's throughput with the filesystem archive and a real worker on its queue.

Needs no generated catalogue: it writes its own released investigation and datasets under a
scratch data root, and removes them afterwards."""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalogue.models import Datafile, Dataset, DownloadRecord, Instrument, Investigation, RestoreJob
from catalogue.storage.services import dataset_archive, restore_request

from .servers import BenchmarkError, answers, process

FILE_BYTES = 1 << 30  # 1 GiB: long enough to be timed at disk and loopback speed
BIG_ZIP_BYTES = 5 << 30  # sparse: the memory item
BLOCK = 1 << 20
RESTORE_DATASETS = 8
RESTORE_FILES = 50  # of 1 MiB each, per dataset


def _evict(path: Path) -> None:
    """Drop the file's pages from the page cache: the next read comes from the disk itself."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _read(path: Path) -> int:
    with open(path, "rb") as file:
        return sum(len(block) for block in iter(lambda: file.read(BLOCK), b""))


def _fetch(url: str) -> int:
    """The bytes curl receives (to /dev/null): a client faster than the server, unlike Python's."""
    answer = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    status, _, size = answer.stdout.partition(" ")
    if status != "200":
        raise BenchmarkError(f"GET {url} answered {status or answer.stderr}")
    return int(size)


def _rate(action, repeat: int) -> list[float]:
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        size = action()
        rates.append(size / (1 << 20) / (time.perf_counter() - started))
    return rates


def _dataset(investigation: Investigation, folder: Path, files: dict[str, int], *, sparse: bool) -> Dataset:
    folder.mkdir(parents=True)
    for path, size in files.items():
        with open(folder / path, "wb") as file:
            if sparse:
                file.truncate(size)
            else:
                for _ in range(size // BLOCK):
                    file.write(os.urandom(BLOCK))
    dataset = Dataset.objects.create(investigation=investigation, name=folder.name, location=str(folder))
    Datafile.objects.bulk_create(Datafile(dataset=dataset, path=path, size=size) for path, size in files.items())
    Dataset.objects.filter(pk=dataset.pk).update(file_count=len(files), size=sum(files.values()), complete=True)
    return dataset


@contextmanager
def _scratch():
    """A released investigation on a scratch instrument whose folder is a scratch data root."""
    (settings.BASE_DIR / "var").mkdir(exist_ok=True)  # beside the data, not in a memory-backed /tmp
    with tempfile.TemporaryDirectory(dir=settings.BASE_DIR / "var") as directory:
        root = Path(directory)
        now = timezone.now()
        instrument = Instrument.objects.create(name=f"BENCH-{uuid.uuid4().hex[:6]}")
        investigation = Investigation.objects.create(
            name=f"STORAGE-{uuid.uuid4().hex[:6]}", visit_id="bench", instrument=instrument,
            data_folder=str(root / "data"), start_date=now - timedelta(days=2), end_date=now - timedelta(days=1),
            release_date=now - timedelta(hours=1),
        )  # fmt: skip
        try:
            yield root, investigation
        finally:
            ids = list(investigation.datasets.values_list("pk", flat=True))
            DownloadRecord.objects.filter(dataset_id__in=ids).delete()
            with transaction.atomic():
                for dataset in investigation.datasets.all():
                    dataset.delete()
                investigation.delete()
                instrument.delete()


def _memory(master: subprocess.Popen, field: str = "VmHWM") -> float:
    """The largest of gunicorn's workers' peak (VmHWM) or current (VmRSS) resident memory, in MiB."""
    with open(f"/proc/{master.pid}/task/{master.pid}/children") as children:
        workers = [int(pid) for pid in children.read().split()]
    peaks = []
    for worker in workers:
        with open(f"/proc/{worker}/status") as status:
            line = next(line for line in status if line.startswith(f"{field}:"))
        peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def run(repeat: int, result) -> dict:
    """The storage items as Results (the caller's dataclass)."""
    results = {}
    with _scratch() as (root, investigation):
        single = _dataset(investigation, root / "data" / "single", {"data.h5": FILE_BYTES}, sparse=False)
        big = _dataset(investigation, root / "data" / "big", {"frames.h5": BIG_ZIP_BYTES}, sparse=True)
        disk_file = Path(single.location) / "data.h5"
        env = {"DATA_ROOTS": str(root), "STORAGE_ARCHIVE_ROOT": str(root / "archive")}
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"]
        with process([*gunicorn, "-b", f"127.0.0.1:{port}"], env, lambda: answers(url)) as master:
            datafile = single.datafiles.get()
            file_url = f"{url}/api/v1/datafiles/{datafile.pk}/download/"
            zip_url = f"{url}/api/v1/datasets/{single.pk}/download/"
            _read(disk_file), _fetch(file_url), _fetch(zip_url)  # warm-up: the page cache, the workers
            disk, download, zipped = [], [], []
            for _ in range(repeat):  # in turn: the machine's speed drifts; each from the disk, not the cache
                for rates, action in ((disk, lambda: _read(disk_file)), (download, lambda: _fetch(file_url)),
                                      (zipped, lambda: _fetch(zip_url))):  # fmt: skip
                    _evict(disk_file)
                    rates += _rate(action, 1)
            disk_rate = statistics.median(disk)
            for key, title, target, rates in (
                ("8_download_file", "Single-file download, 1 GiB, gunicorn on loopback", ">= 0.8x disk", download),
                ("8_download_zip", "Dataset ZIP download, 1 GiB, gunicorn on loopback", ">= 0.5x disk", zipped),
            ):
                results[key] = result(
                    title, target, unit="MiB/s", median=statistics.median(rates), p95=sorted(rates)[0],
                    ratio=statistics.median(rates) / disk_rate, ratio_to=f"reading from disk, {disk_rate:,.0f} MiB/s",
                )  # fmt: skip
            before, resident = _memory(master), _memory(master, "VmRSS")
            started = time.perf_counter()
            size = _fetch(f"{url}/api/v1/datasets/{big.pk}/download/")
            seconds = time.perf_counter() - started
            results["8_zip_5gb_peak_rss"] = result(
                "Peak RSS of a gunicorn worker during a 5 GiB ZIP", "< 100 MB", unit="MiB", median=_memory(master),
                note=f"peak {before:.0f} MiB before (resident {resident:.0f}); {size / (1 << 20) / seconds:,.0f} MiB/s",
            )  # fmt: skip
        results["8_restore_queue"] = _restore_queue(root, investigation, env, repeat, result)
    return results


def _restore_queue(root: Path, investigation: Investigation, env: dict, repeat: int, result):
    """Datasets restored per second by one worker on the restore queue, filesystem archive, no mount
    delay: from the requests until every dataset is online."""
    title = f"Restore queue, filesystem archive: {RESTORE_DATASETS} datasets of {RESTORE_FILES} x 1 MiB, 1 worker"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return result(title, "measured", unit="datasets/s", note="not measured: no broker")
    datasets = [
        _dataset(investigation, root / "data" / f"restore{i}", {f"f{k:03}.h5": BLOCK for k in range(RESTORE_FILES)},
                 sparse=False)
        for i in range(RESTORE_DATASETS)
    ]  # fmt: skip
    user = get_user_model().objects.get_or_create(username="storage-bench")[0]
    name = f"restore-bench-{uuid.uuid4().hex[:6]}@localhost"
    worker = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name]
    worker += [
        "-Q",
        settings.STORAGE_RESTORE_QUEUE,
        "-c",
        "1",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=WARNING",
    ]
    rates = []
    ready = lambda: current_app.control.ping(destination=[name], timeout=0.5)  # noqa: E731
    with process(worker, env, ready), _as_the_servers(root):
        for _ in range(repeat):
            for dataset in datasets:
                dataset_archive(dataset_id=dataset.pk, reason="benchmark")
            started = time.perf_counter()
            restore_request(user=user, datasets=Dataset.objects.filter(pk__in=[d.pk for d in datasets]))
            deadline = time.monotonic() + 300
            while Dataset.objects.filter(pk__in=[d.pk for d in datasets], storage_status="online").count() < len(
                datasets
            ):
                if time.monotonic() > deadline:
                    raise BenchmarkError("the restores did not end within 300 s")
                time.sleep(0.05)
            rates.append(len(datasets) / (time.perf_counter() - started))
    RestoreJob.objects.filter(dataset__in=datasets).delete()
    user.delete()
    megabytes = statistics.median(rates) * RESTORE_FILES
    return result(
        title, "measured", unit="datasets/s", median=statistics.median(rates), p95=sorted(rates)[0],
        note=f"{megabytes:,.0f} MiB/s",
    )  # fmt: skip


@contextmanager
def _as_the_servers(root: Path):
    """This process's data roots and archive set as the servers' (the archiving runs here)."""
    previous = settings.DATA_ROOTS, settings.STORAGE_ARCHIVE_ROOT
    settings.DATA_ROOTS, settings.STORAGE_ARCHIVE_ROOT = [root], root / "archive"
    try:
        yield
    finally:
        settings.DATA_ROOTS, settings.STORAGE_ARCHIVE_ROOT = previous


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
