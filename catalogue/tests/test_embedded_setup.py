"""The embedded default of `make run`: SQLite, eager tasks, vocabulary and demo loaded twice.

The rest of the suite runs on PostgreSQL; this guards the first command of the README.
"""

import os
import subprocess
import sys
from pathlib import Path

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
