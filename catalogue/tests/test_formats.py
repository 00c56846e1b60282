"""catalogue.portal.formats: the dataset table's values, written once per table with the request's
formats, are what Django's filters write, in any language, time zone and script prefix."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import date, filesizeformat
from django.urls import reverse, set_script_prefix
from django.utils import timezone, translation

from catalogue.models import Dataset
from catalogue.portal.formats import RequestFormats

RANDOM = random.Random(17)
SIZES = [0, 1, 1023, 1024, 1536, 1048575, 1048576, 812_345_678_901, 1 << 40, (1 << 50) - 1, 1 << 50, 1 << 60]
SIZES += [-5, -2048, -(1 << 33), True, None, "12", 3.5] + [RANDOM.randrange(1 << 52) for _ in range(300)]
COUNTS = [0, 1, 999, 1000, -1000, 1_234_567, 10**12, None, "x", 3.5, True]
COUNTS += [RANDOM.randrange(-(10**9), 10**9) for _ in range(100)]
MOMENTS = [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]  # Paris's summer time
MOMENTS += [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=RANDOM.randrange(3_000_000)) for _ in range(300)]


@pytest.fixture(params=["/", "/catalogue/"])
def script_prefix(request):
    set_script_prefix(request.param)
    yield request.param
    set_script_prefix("/")


@pytest.mark.parametrize("language", ["en-gb", "fr", "de"])
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_request_formats_write_what_djangos_filters_write(language, zone, script_prefix):
    with translation.override(language), timezone.override(zone):
        formats = RequestFormats()
        assert [formats.size(value) for value in SIZES] == [filesizeformat(value) for value in SIZES]
        assert [formats.count(value) for value in COUNTS] == [intcomma(value) for value in COUNTS]
        local = [timezone.localtime(moment) for moment in MOMENTS]
        assert [formats.clock(moment) for moment in MOMENTS] == [date(moment, "H:i") for moment in local]
        assert [formats.day(moment) for moment in MOMENTS] == [date(moment, "j M Y") for moment in local]
        for status in Dataset.StorageStatus.values:
            assert formats.storage_status(status) == Dataset(storage_status=status).get_storage_status_display()
        for pk in (1, 42, 123_456_789_012):
            assert formats.route("dataset-row", pk) == reverse("dataset-row", args=[pk])
        assert formats.url("storage-restore") == reverse("storage-restore")
