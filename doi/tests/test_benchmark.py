"""The publications benchmark's smoke run: a tiny generated catalogue and its publications, every
item once, pinned query counts. Fails on errors and on query counts, never on time."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from catalogue.models import Investigation
from doi.bench.synthetic import SYNTHETIC_PREFIX, WITHDRAWN_EVERY
from doi.models import Publication, PublicationPerson

pytestmark = pytest.mark.postgresql  # the generators write with COPY

# Queries per measured run: a change here is an N+1 or a lost one; update it on purpose only. None
# grows with the catalogue (the same at the small scale).
QUERIES = {
    # the page, its people, its datasets' totals, their techniques
    "1_oai_listrecords_oai_dc": 4,
    "1_oai_listrecords_deep": 4,
    "1_oai_listrecords_oai_datacite": 4,
    # the parameter vocabulary (for the filter), the page, its techniques, the vocabulary again (for
    # the include's scope), its parameters
    "2_panosc_datasets_query": 5,
    # the page, its techniques, its instruments
    "2_panosc_datasets_text": 3,
    # the page, empty: no relation to include
    "2_panosc_datasets_rare_word": 1,
    # the page, its members (with person), its datasets
    "2_panosc_documents": 3,
    # the publication, its facts (twice), people, datasets, the reader's rights (as test_views pins)
    "3_landing_page": 15,
}


@pytest.fixture
def tiny_publications(db):
    call_command("generate_catalogue", scale="tiny", seed=7, stdout=io.StringIO())
    call_command("generate_publications", stdout=io.StringIO())


def test_generate_and_benchmark_the_tiny_publications(tiny_publications, tmp_path):
    released = Investigation.objects.filter(release_date__lte=timezone.now())
    publications = Publication.objects.all()
    assert publications.count() == released.count() > 0
    assert not Investigation.objects.filter(name="MX-BENCH", publications__isnull=False).exists()  # embargoed
    assert all(p.doi.startswith(f"{SYNTHETIC_PREFIX}/SYNTHETIC.") for p in publications)
    withdrawn = publications.filter(state=Publication.State.WITHDRAWN)
    assert withdrawn.count() == len(range(1, publications.count(), WITHDRAWN_EVERY)) > 0
    assert all(p.withdrawn and p.modified == p.withdrawn for p in withdrawn)
    findable = publications.filter(state=Publication.State.FINDABLE)
    assert all(p.published == p.investigation.release_date == p.modified for p in findable)
    # creators: the participants, PI first; contributors: the instrument scientists
    for publication in publications:
        creators = list(publication.people.filter(role="creator"))
        assert {c.user_id for c in creators} == set(
            publication.investigation.members.exclude(role="local_contact").values_list("user_id", flat=True)
        )
        pi = publication.investigation.members.get(role="pi").user_id
        assert creators[0].user_id == pi
    assert PublicationPerson.objects.filter(role="contributor", contributor_type="DataCollector").exists()
    with pytest.raises(CommandError, match="publications already"):
        call_command("generate_publications", stdout=io.StringIO())

    path = tmp_path / "bench.json"
    call_command("benchmark_doi", repeat=1, json_path=str(path), stdout=io.StringIO())
    results = json.loads(path.read_text())["results"]
    assert sorted(results) == sorted(QUERIES)
    assert {key: results[key]["queries"] for key in QUERIES} == QUERIES
    for key in results:
        assert results[key]["median"] > 0, key
