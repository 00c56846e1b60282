"""The benchmark's smoke run (CI): a tiny generated catalogue, every item, pinned query counts.

Fails on errors and on query counts, never on time.
"""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.bench import benchmarks, memory, storage
from catalogue.bench.benchmarks import BREAKDOWN_PARTS, PROFILE_GROUPS
from catalogue.bench.scales import SCALES
from catalogue.bench.synthetic import BENCH_USER
from catalogue.models import Datafile, Dataset, InvestigationUser

from .conftest import live_counts, tally_counts

pytestmark = pytest.mark.postgresql  # the generator writes with COPY

# Queries per measured run: a change here is an N+1 or a lost one; update it on purpose only.
QUERIES = {
    # PostgreSQL: CREATE TEMPORARY TABLE IF NOT EXISTS (the connection keeps it), COPY, INSERT ... SELECT,
    # DELETE (10,000 files); was 2 bulk INSERTs.
    # + the dataset tally's locked read and its upsert of the new size; + the investigation's locked
    # read and the upsert of its rollup.
    "2_datafile_registration": 13,
    # session, user, investigation, page, sample and definition choices, the navbar's staff check;
    # the investigation's tallies count its datasets (no COUNT).
    "3_investigation_page_1": 6,
    "3_investigation_page_100": 6,
    # The dataset's file_count counts its files (no COUNT); + its storage history.
    "4_dataset_page": 9,
    "5_parameter_search": 6,
    # GET /api/v1/datasets/facets/: session, user, one query over the rollups (and tallies for a user).
    "5_facets": 3,
    "6_investigation_page_1_user": 7,
    "6_investigation_page_100_user": 7,
    # + the visibility of the links that leave the page (an admin needs no such check).
    "6_parameter_search_user": 7,
    "6_facets_user": 3,
    # One store of a new dataset with 100 files, no sample (test_api's test_store_query_count says
    # which statements); the key's last_used is written once a minute, not in the timed run.
    "1_store_server_time": 12,
}
# Through gunicorn and the worker, other processes: their queries are not counted.
SERVED = [
    "1_ingestion_api_1_client",
    "1_ingestion_api_8_clients",
    "1_ingestion_api_batch_1_client",
    "7_dataset_list_api_50_clients",
]
# Item 9 (the workers' memory), with a few requests.
MEMORY = ["9_worker_rss_warm", "9_worker_rss_after_requests"]
# Item 8 (downloads, restores), at test sizes.
STORAGE = ["8_download_file", "8_download_zip", "8_zip_5gb_peak_rss", "8_restore_queue"]


@pytest.fixture(autouse=True)
def small_storage_items(monkeypatch):
    monkeypatch.setattr(storage, "FILE_BYTES", 16 << 20)
    monkeypatch.setattr(storage, "BIG_ZIP_BYTES", 64 << 20)
    monkeypatch.setattr(storage, "RESTORE_DATASETS", 2)
    monkeypatch.setattr(storage, "RESTORE_FILES", 3)
    monkeypatch.setattr(memory, "WARM_UP_REQUESTS", 40)
    monkeypatch.setattr(benchmarks, "MEMORY_REQUESTS", 80)
    monkeypatch.setattr(benchmarks, "STORE_RUNS", 2)


@pytest.fixture
def tiny_catalogue(transactional_db):
    """Committed: gunicorn, another process, reads it."""
    call_command("generate_catalogue", scale="tiny", seed=7, stdout=io.StringIO())


def test_generator_builds_the_tiny_scale_once(tiny_catalogue):
    tiny = SCALES["tiny"]
    assert Dataset.objects.count() == tiny.datasets
    assert Dataset.objects.order_by("-file_count").first().file_count == tiny.huge_files
    assert Datafile.objects.count() == sum(Dataset.objects.values_list("file_count", flat=True))
    assert Dataset.inputs.through.objects.exists()
    assert InvestigationUser.objects.filter(user__username=BENCH_USER).count() == tiny.bench_user_investigations
    assert tally_counts() == live_counts()  # COPY bypasses the tallies: one INSERT ... SELECT at the end
    with pytest.raises(CommandError, match="already holds datasets"):
        call_command("generate_catalogue", scale="tiny")


def test_benchmark_measures_every_item_with_pinned_query_counts(tiny_catalogue, tmp_path):
    path = tmp_path / "bench.json"
    call_command("benchmark", repeat=1, json_path=str(path), stdout=io.StringIO())
    results = json.loads(path.read_text())["results"]
    assert sorted(results) == sorted([*QUERIES, *SERVED, *STORAGE, *MEMORY])
    assert {key: results[key]["queries"] for key in QUERIES} == QUERIES
    for key in [*QUERIES, *SERVED, *STORAGE, *MEMORY]:
        assert results[key]["median"] > 0, key
    assert results["9_worker_rss_after_requests"]["ratio"] > 0  # a mean RSS over the warm one
    assert results["8_download_file"]["ratio"] > 0 and "reading from disk" in results["8_download_file"]["ratio_to"]
    assert results["7_dataset_list_api_50_clients"]["throughput"] > 0
    # (3): the ratio to the page's own statements replayed alone, and where the rest goes.
    for key in ("3_investigation_page_1", "3_investigation_page_100"):
        assert results[key]["ratio"] > 0, key
        assert results[key]["ratio_to"].startswith(f"its own SQL ({QUERIES[key]} statements)"), key
        breakdown = results[key]["breakdown"]
        assert set(breakdown) == {"own_sql_ms", "total_ms", "jinja2_ms", "profile_shares", *BREAKDOWN_PARTS}, key
        assert breakdown["total_ms"] > 0 and breakdown["sql_ms"] > 0 and breakdown["own_sql_ms"] > 0, key
        assert list(breakdown["profile_shares"]) == [*PROFILE_GROUPS, "other"], key
        assert sum(breakdown["profile_shares"].values()) == pytest.approx(100, abs=1), key
    assert all(results[key]["breakdown"] is None for key in results if not key.startswith("3_")), results
    assert not Dataset.objects.filter(location__startswith="/bench").exists()  # scratch datasets removed
