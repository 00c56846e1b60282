"""Item 9 of the benchmark: the gunicorn workers' resident memory after their warm-up and after
10,000 requests over the portal's and the API's main routes (issue 17: "no growth beyond noise").

Runs inside the benchmark's servers (catalogue/bench/servers.py): gunicorn with the production
settings on loopback; 8 client threads share the requests, signed in as bench-admin."""

import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from .servers import BenchmarkError

REQUESTS = 10_000
WARM_UP_REQUESTS = 500  # enough for each worker to have served every route a few times
CLIENTS = 8


def _workers(port: int) -> list[int]:
    """The pids of the gunicorn workers listening on `port`: the processes started with its
    address whose parent is such a process too (the arbiter)."""
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        if b"config.wsgi" in cmdline and f"127.0.0.1:{port}".encode() in cmdline:
            mine.append((int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])))
    pids = {pid for pid, _ in mine}
    return sorted(pid for pid, parent in mine if parent in pids)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkError(f"no VmRSS for gunicorn worker {pid}")


def _hammer(url: str, cookies: dict, paths: list[str], count: int) -> None:
    def client_run(offset: int) -> None:
        with requests.Session() as session:
            session.cookies.update(cookies)
            for i in range(offset, count, CLIENTS):
                path = paths[i % len(paths)]
                response = session.get(url + path, timeout=120)
                if response.status_code != 200:
                    raise BenchmarkError(f"GET {path} through gunicorn answered {response.status_code}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client_run, range(CLIENTS)))


def run(url: str, cookies: dict, paths: list[str], result_class, requests_count: int = REQUESTS) -> dict:
    """Two results: the workers' mean RSS after the warm-up, and after `requests_count` more
    requests with its ratio to the first; the p95 column holds the largest worker's."""
    port = int(url.rsplit(":", 1)[1])
    _hammer(url, cookies, paths, WARM_UP_REQUESTS)
    pids = _workers(port)
    if not pids:
        raise BenchmarkError(f"no gunicorn worker found on port {port}")
    warm = [_rss_mib(pid) for pid in pids]
    _hammer(url, cookies, paths, requests_count)
    if _workers(port) != pids:
        raise BenchmarkError("a gunicorn worker was replaced during the requests (max_requests or a crash)")
    after = [_rss_mib(pid) for pid in pids]
    title = f"Resident memory of a gunicorn worker ({len(pids)} workers), {len(paths)} routes"
    return {
        "9_worker_rss_warm": result_class(
            f"{title}: after {WARM_UP_REQUESTS} warm-up requests",
            "measured",
            unit="MiB",
            median=statistics.mean(warm),
            p95=max(warm),
            note="mean of the workers; p95 column: the largest",
        ),
        "9_worker_rss_after_requests": result_class(
            f"{title}: after {requests_count:,} more requests",
            "no growth beyond noise",
            unit="MiB",
            median=statistics.mean(after),
            p95=max(after),
            ratio=statistics.mean(after) / statistics.mean(warm),
            ratio_to="after the warm-up",
            note="mean of the workers; p95 column: the largest",
        ),
    }
