"""Lists that can hold the whole catalogue: capped counts, pages past the cap, pages fetched by id,
and the hand-written parts of the dataset list (its serializer, URLs, dates)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.paginator import Paginator
from django.template import Context, Template
from django.test import Client
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from catalogue.api.serializers import DatasetSerializer
from catalogue.models import Dataset
from catalogue.pagination import DeferredJoinPaginator
from catalogue.portal.views import DATASETS_PER_PAGE
from catalogue.routes import pk_url
from catalogue.tallies import recount

from .conftest import DATASETS_URL, make_dataset, make_investigation, make_sample


@pytest.fixture
def many(instrument, data_root):
    """A released investigation with 12 datasets, a minute apart, the newest first by id too."""
    investigation = make_investigation(instrument, "MX-9", released=True, days_ago=2000)
    start = timezone.now() - timedelta(days=2000)
    return investigation, [
        make_dataset(investigation, str(data_root / f"d{i:02}"), start_date=start + timedelta(minutes=i))
        for i in range(12)
    ]


def test_pages_past_the_cap_are_served_until_the_rows_end(settings, api_client, many):
    settings.COUNT_CAP = 5
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 4}
    expected = [d.pk for d in sorted(many[1], key=lambda d: d.start_date, reverse=True)]
    walked, url = [], DATASETS_URL
    while url:
        body = api_client.get(url).json()
        assert (body["count"], body["count_exact"]) == (5, False)
        walked += [row["id"] for row in body["results"]]
        url = body["next"]
    assert walked == expected  # 3 pages of 4, the last two past the cap
    assert api_client.get(f"{DATASETS_URL}?page=4").status_code == 404
    assert api_client.get(f"{DATASETS_URL}?page=0").status_code == 404
    assert api_client.get(f"{DATASETS_URL}?page=x").status_code == 404


def test_under_the_cap_the_count_is_exact(settings, api_client, many):
    settings.COUNT_CAP = 12
    body = api_client.get(DATASETS_URL).json()
    assert (body["count"], body["count_exact"], body["next"]) == (12, True, None)


def test_the_search_page_shows_a_capped_count(settings, many):
    settings.COUNT_CAP = 10
    page = Client().get(reverse("dataset-list"))
    assert page.status_code == 200
    assert "1–12 of 10+" in page.content.decode()  # the 12 fit one page; the count stopped at 10


def test_an_investigation_page_past_the_first_shows_its_rows_for_the_same_queries(
    instrument, data_root, django_assert_num_queries
):
    investigation = make_investigation(instrument, "MX-9", released=True, days_ago=2000)
    start = timezone.now() - timedelta(days=2000)
    Dataset.objects.bulk_create(
        Dataset(
            investigation=investigation,
            name=f"d{i:02}",
            location=str(data_root / f"d{i:02}"),
            start_date=start + timedelta(minutes=i),
        )
        for i in range(DATASETS_PER_PAGE + 5)
    )
    recount()  # bulk_create skips the signals that keep the tallies, as in the catalogue generator
    newest_first = list(investigation.datasets.order_by("-start_date", "-id").values_list("pk", flat=True))
    client = Client()
    client.get(investigation.get_absolute_url())  # warm up
    # Anonymous: no session nor user; investigation, page, sample and definition choices (the
    # investigation's tallies count its datasets).
    with django_assert_num_queries(4):
        page_1 = client.get(investigation.get_absolute_url())
    with django_assert_num_queries(4):
        page_2 = client.get(f"{investigation.get_absolute_url()}?page=2")
    assert [d.pk for d in page_1.context["page_obj"]] == newest_first[:DATASETS_PER_PAGE]
    assert [d.pk for d in page_2.context["page_obj"]] == newest_first[DATASETS_PER_PAGE:]
    assert f"{DATASETS_PER_PAGE + 1}–{DATASETS_PER_PAGE + 5} of {DATASETS_PER_PAGE + 5}" in page_2.content.decode()


def test_deferred_pages_match_plain_slicing(many):
    datasets = Dataset.objects.order_by("-start_date", "-id")
    for number in (1, 2, 3):
        deferred = DeferredJoinPaginator(datasets, 5).page(number)
        plain = Paginator(datasets, 5).page(number)
        assert [d.pk for d in deferred] == [d.pk for d in plain]
        assert (deferred.has_next(), deferred.start_index(), deferred.end_index()) == (
            plain.has_next(),
            plain.start_index(),
            plain.end_index(),
        )


@pytest.mark.parametrize("shape", ["full", "bare"])
def test_the_written_out_serializer_gives_what_drf_would(shape, released_investigation, data_root):
    if shape == "full":
        dataset = make_dataset(
            released_investigation,
            str(data_root / "full"),
            sample=make_sample(released_investigation),
            start_date=datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC),
            end_date=datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            parameters={"a": 1.5, "b": "x"},
            warnings=[{"field": "a", "value": 1.5, "rule": "maximum 1"}],
        )
    else:
        dataset = make_dataset(released_investigation, str(data_root / "bare"))
    dataset = Dataset.objects.select_related("investigation", "sample", "definition").get(pk=dataset.pk)
    dataset.link_inputs, dataset.link_outputs = [3, 5], [7]
    serializer = DatasetSerializer()
    generic = super(DatasetSerializer, serializer).to_representation(dataset)
    assert serializer.to_representation(dataset) == dict(generic)
    assert list(serializer.to_representation(dataset)) == list(serializer.fields)


@pytest.mark.parametrize("name", ["dataset-detail", "dataset-row", "sample-detail", "investigation-detail"])
@pytest.mark.parametrize("prefix", ["/", "/catalogue/"])
def test_pk_url_is_reverse(name, prefix):
    set_script_prefix(prefix)
    try:
        for pk in (1, 42, 9081726354, 123456789012):
            assert pk_url(name, pk) == reverse(name, args=[pk])
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),  # just before Paris moves to summer time
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 5, tzinfo=UTC),  # already next year in Paris
        datetime(2026, 5, 3, 9, 7, tzinfo=UTC),
    ],
)
def test_clock_and_day_write_what_the_date_filter_writes(moment, settings):
    settings.TIME_ZONE = "Europe/Paris"
    ours = Template("{% load portal %}{{ t|clock }} {{ t|day }}").render(Context({"t": moment}))
    django = Template('{{ t|date:"H:i" }} {{ t|date:"j M Y" }}').render(Context({"t": moment}))
    assert ours == django


def test_the_search_page_counts_facets_only_when_tallies_or_the_cap_allow(settings, many):
    settings.COUNT_CAP = 5
    broad = Client().get(reverse("dataset-list"), {"q": "d0"})  # 10 matches by name: over the cap
    assert (broad.context["facets"], broad.context["facets_skipped"]) == ([], True)
    assert "appear once the search finds at most 5 datasets" in broad.content.decode()
    narrow = Client().get(reverse("dataset-list"), {"q": "d1"})  # d10 and d11
    assert narrow.context["facets_skipped"] is False
    assert [entry["count"] for entry in narrow.context["facets"][0]["entries"]] == [2]
    tallied = Client().get(reverse("dataset-list"))  # 12 datasets, over the cap, but the tallies count them
    assert tallied.context["facets_skipped"] is False
    assert [entry["count"] for entry in tallied.context["facets"][0]["entries"]] == [12]
