"""The logbook benchmark's smoke run: a tiny generated catalogue and its logbooks, every item once,
pinned query counts. Fails on errors and on query counts, never on time."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.bench.scales import SCALES
from catalogue.models import Investigation
from logbook.bench import benchmarks
from logbook.bench.synthetic import BROADCASTS, EVENTS_PER_DATASET
from logbook.models import Event

pytestmark = pytest.mark.postgresql  # the generators write with COPY

# Queries per measured run: a change here is an N+1 or a lost one; update it on purpose only.
QUERIES = {
    # session, user, investigation, events, their tags' names, their attachments, the navbar's staff
    # check, the tag filter's choices (as logbook/tests/test_views.py pins)
    "1_logbook_page_1": 8,
    "1_logbook_page_deep": 8,
    # the search page: session, user, events (with their logbooks), their tags' names, the navbar's staff check
    "2_search_readable": 5,
    "2_search_logbook_page": 8,
}
SERVED = ["3_ingestion_api_8_clients", "3_ingestion_api_batch_8_clients"]  # through gunicorn: queries not counted


@pytest.fixture
def tiny_logbook(transactional_db):
    """Committed: gunicorn, another process, reads it."""
    call_command("generate_catalogue", scale="tiny", seed=7, stdout=io.StringIO())
    call_command("generate_logbook", seed=7, stdout=io.StringIO())


def test_generate_and_benchmark_the_tiny_logbook(tiny_logbook, tmp_path, monkeypatch):
    monkeypatch.setattr(benchmarks, "INGESTION_EVENTS", 16)
    monkeypatch.setattr(benchmarks, "INGESTION_BATCH", 3)  # 8 clients: 2 batches each, of 3 events and of 2
    monkeypatch.setattr(benchmarks, "INGESTION_BATCH_EVENTS", 40)
    tiny = SCALES["tiny"]
    bench = Investigation.objects.get(name="MX-BENCH")
    assert Event.objects.filter(investigation=bench).count() == EVENTS_PER_DATASET * tiny.bench_investigation_datasets
    assert Event.objects.filter(investigation__isnull=False).count() == EVENTS_PER_DATASET * tiny.datasets
    assert Event.objects.filter(type="broadcast").count() == BROADCASTS
    assert Event.tags.through.objects.exists()
    # ids grow with the creation date, as a live server's do: the timeline's keyset order is the time's
    dates = list(Event.objects.filter(investigation=bench).order_by("id").values_list("creation_date", flat=True))
    assert dates == sorted(dates)
    with pytest.raises(CommandError, match="already holds events"):
        call_command("generate_logbook", stdout=io.StringIO())

    path = tmp_path / "bench.json"
    call_command("benchmark_logbook", repeat=1, json_path=str(path), stdout=io.StringIO())
    results = json.loads(path.read_text())["results"]
    assert sorted(results) == sorted([*QUERIES, *SERVED])
    assert {key: results[key]["queries"] for key in QUERIES} == QUERIES
    for key in results:
        assert results[key]["median"] > 0, key
    assert not Event.objects.filter(software__startswith="benchmark-").exists()  # ingested events removed
