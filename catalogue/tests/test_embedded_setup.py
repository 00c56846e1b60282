"""The embedded default of `make run`: SQLite, eager tasks, vocabulary and demo loaded twice.

The rest of the suite runs on PostgreSQL; this guards the first command of the README.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parents[2]


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def test_migrate_and_demo_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "DATA_ROOTS": str(tmp_path / "data"),
    }
    for _ in range(2):  # the second run must change nothing and fail nowhere
        for command in (["migrate", "--noinput"], ["sync_techniques"], ["load_demo"]):
            result = manage(*command, env=env)
            assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    assert "Vocabulary up to date." in manage("sync_techniques", env=env).stdout
    count = "from catalogue.models import Dataset as D; print(D.objects.count(), D.objects.exclude(complete=1).count())"
    shell = manage("shell", "-c", count, env=env)
    datasets, incomplete = map(int, shell.stdout.split()[-2:])
    assert datasets > 30 and incomplete == 0


def readme_example(data_root: Path) -> dict:
    """The body of the README's curl example of the ingestion API, its location in data_root."""
    readme = (BASE_DIR / "README.md").read_text()
    body = re.search(r"-d '(\{.*?\})'\n", readme, re.S).group(1)
    return json.loads(body.replace("'\"$PWD\"'/var/data", str(data_root)))


def test_the_readme_example_stored_twice_on_sqlite(tmp_path):
    """Storing the README's own example twice hung the embedded server: the registration of a file
    list looped for ever on SQLite, holding the database lock, and every write then failed."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "DATA_ROOTS": str(tmp_path / "data"),
        "DJANGO_DEBUG": "1",
    }
    for command in (["migrate", "--noinput"], ["sync_techniques"], ["load_demo"]):
        result = manage(*command, env=env)
        assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    key = re.search(r"^\s+([0-9a-f]{8}\.\S+)$", result.stdout, re.M).group(1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/api/v1/", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "runserver did not start"
                time.sleep(0.2)
        body = readme_example(tmp_path / "data")
        headers = {"Authorization": f"Api-Key {key}"}
        answers = [requests.post(f"{url}/api/v1/datasets/", json=body, headers=headers, timeout=30) for _ in range(2)]
        assert [a.status_code for a in answers] == [201, 200], answers[-1].text
        assert answers[1].json()["complete"] and answers[1].json()["file_count"] == 1
        # The database is not left locked: a sign-in still writes its session.
        session = requests.Session()
        session.get(f"{url}/accounts/login/", timeout=30)
        signed_in = session.post(
            f"{url}/accounts/login/",
            data={"username": "alice", "password": "demo", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": f"{url}/accounts/login/"},
            timeout=30,
        )
        assert signed_in.status_code == 200 and "sessionid" in session.cookies
    finally:
        server.terminate()
        server.wait(timeout=30)
