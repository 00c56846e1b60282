"""Constraints the database enforces, whoever writes (ingestion, admin, a script)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalogue.models import Datafile, Dataset, Investigation, Sample

from .conftest import make_dataset, make_investigation, make_sample

pytestmark = pytest.mark.django_db


def test_investigation_is_unique_by_proposal_and_visit(instrument, investigation):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_investigation(instrument, investigation.name, investigation.visit_id)


def test_a_proposal_may_have_several_visits(instrument, investigation):
    second = make_investigation(instrument, investigation.name, "v2")
    assert Investigation.objects.filter(name=investigation.name).count() == 2
    assert second.pk != investigation.pk


def test_investigation_cannot_end_before_it_starts(investigation):
    investigation.end_date = investigation.start_date - timedelta(seconds=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        investigation.save()


def test_investigation_end_before_start_is_a_validation_error(investigation):
    investigation.end_date = investigation.start_date - timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        investigation.full_clean()
    assert "investigation_end_after_start" in str(excinfo.value)


def test_investigation_may_end_when_it_starts(investigation):
    investigation.end_date = investigation.start_date
    investigation.save()
    investigation.full_clean()


def test_sample_name_is_unique_within_an_investigation(investigation):
    make_sample(investigation, "lysozyme")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_sample(investigation, "lysozyme")


def test_same_sample_name_in_another_investigation_is_allowed(investigation, released_investigation):
    make_sample(investigation, "lysozyme")
    make_sample(released_investigation, "lysozyme")
    assert Sample.objects.filter(name="lysozyme").count() == 2


def test_dataset_location_is_unique_across_investigations(investigation, released_investigation, data_root):
    location = str(data_root / "scan")
    make_dataset(investigation, location)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_dataset(released_investigation, location, name="other")


def test_datafile_path_is_unique_within_a_dataset(investigation, data_root):
    dataset = make_dataset(investigation, str(data_root / "a"))
    other = make_dataset(investigation, str(data_root / "b"))
    Datafile.objects.create(dataset=dataset, path="img_0001.cbf", size=1)
    Datafile.objects.create(dataset=other, path="img_0001.cbf", size=1)  # another dataset: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        Datafile.objects.create(dataset=dataset, path="img_0001.cbf", size=2)
    assert Datafile.objects.filter(path="img_0001.cbf").count() == 2


def test_dataset_inputs_are_not_symmetrical(investigation, data_root):
    raw = make_dataset(investigation, str(data_root / "raw"))
    processed = make_dataset(investigation, str(data_root / "processed"), kind=Dataset.Kind.PROCESSED)
    processed.inputs.add(raw)
    assert list(raw.outputs.all()) == [processed]
    assert list(raw.inputs.all()) == []
