"""Real server processes the reliability tests start, kill and restart (test_reliability, test_faults):
PostgreSQL and Redis of their own (the suite's are shared by every test), gunicorn and Celery
workers, each on a free loopback port. Binaries are found as scripts/with-test-services finds them;
as root, PostgreSQL runs as the postgres user."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable, *, timeout: float, what: str, interval: float = 0.05):
    """Poll check() until it returns something true (returned), or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


def database_url(db: dict) -> str:
    """postgres://... of a Django connection's settings_dict."""
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{quote(db['HOST'] or '', safe='')}{port}/{quote(db['NAME'], safe='')}"


def app_env(**extra: str) -> dict[str, str]:
    """The environment of a server or worker process of the application."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1", **extra}


def read_log(path: Path, limit: int = 20_000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


class Process:
    """A child process whose output goes to a log file."""

    def __init__(self, command: list[str], log: Path, env: dict | None = None, cwd: Path = BASE_DIR):
        self.command, self.log, self.env, self.cwd = command, log, env, cwd
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(env: dict, log: Path, *, workers: int = 1) -> tuple[Process, str]:
    """gunicorn with the production settings (config/gunicorn.py) on a free port; (process, URL)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "python:config.gunicorn", "config.wsgi"]
    command += ["-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "60"]
    server = Process(command, log, env).start()
    url = f"http://127.0.0.1:{port}"

    def answers():
        if not server.alive():
            raise AssertionError(f"gunicorn exited:\n{read_log(log)}")
        try:
            return requests.get(f"{url}/api/v1/", timeout=2) is not None
        except requests.RequestException:
            return False

    wait_for(answers, timeout=60, what=f"gunicorn answering at {url}", interval=0.2)
    return server, url


def start_worker(env: dict, log: Path, *, name: str, concurrency: int = 2, queues: str = "celery") -> Process:
    """A Celery worker as production runs it (a pool of threads), ready when its log says so."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "threads", "-c", str(concurrency)]
    command += ["-n", name, "-Q", queues, "--loglevel=INFO", "--without-heartbeat", "--without-mingle"]
    command += ["--without-gossip"]
    log.touch()
    start = log.stat().st_size
    worker = Process(command, log, env).start()

    def ready():
        if not worker.alive():
            raise AssertionError(f"Celery worker exited:\n{read_log(log)}")
        with log.open("rb") as f:
            f.seek(start)
            return b" ready." in f.read()

    wait_for(ready, timeout=60, what=f"Celery worker {name} ready", interval=0.1)
    return worker


class Redis:
    """A redis-server of the test's own, keeping nothing on disk (as the suite's and the issue's)."""

    def __init__(self, directory: Path):
        binary = shutil.which("redis-server")
        if not binary:
            raise FileNotFoundError("redis-server")
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = Process([*command, "--dir", str(self.directory)], self.directory / "redis.log").start()
        wait_for(self.ping, timeout=20, what=f"Redis on port {self.port}")
        return self

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def ping(self) -> bool:
        try:
            return self.client().ping()
        except Exception:
            return False

    def kill(self) -> None:
        self.process.kill()


def _pg_bindir() -> str | None:
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if found and os.access(os.path.join(found, "initdb"), os.X_OK):
            return found
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class Postgres:
    """A PostgreSQL cluster of the test's own in a temporary directory, database `catalogue`, trust
    authentication on loopback; speed over durability, as the suite's."""

    def __init__(self):
        self.bindir = _pg_bindir()
        if not self.bindir or not os.access(os.path.join(self.bindir, "initdb"), os.X_OK):
            raise FileNotFoundError("PostgreSQL's initdb (set PG_BINDIR)")
        # As root the server runs as postgres, which must reach the directory: not under pytest's
        # tmp_path (mode 700).
        self.directory = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.directory.chmod(0o755)
        self.data = self.directory / "data"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if self.run_as:
            shutil.chown(self.directory, "postgres")
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgres://catalogue@127.0.0.1:{self.port}/catalogue"

    def _pg(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run(
            [*self.run_as, *args], cwd=self.directory, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}{read_log(self.log)}")

    @property
    def log(self) -> Path:
        return self.directory / "postgresql.log"

    def init(self) -> Postgres:
        initdb = os.path.join(self.bindir, "initdb")
        self._pg(initdb, "-D", str(self.data), "-U", "catalogue", "--auth=trust", "--no-locale", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.directory}'\n"
                "fsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 100\n"
            )
        self.start()
        import psycopg

        with psycopg.connect(f"postgresql://catalogue@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE catalogue")
        return self

    def start(self) -> None:
        self._pg(self._pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg(self._pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def _pg_ctl(self) -> str:
        return os.path.join(self.bindir, "pg_ctl")

    def remove(self) -> None:
        with contextlib.suppress(Exception):  # not running
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
