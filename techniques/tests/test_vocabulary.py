"""The vocabulary cached per process: read once while unchanged, re-read after any committed change,
whichever process or connection made it, and never kept from a change that was rolled back."""

import threading

import pytest
from django.db import connections, transaction

from techniques.loading import sync_definitions
from techniques.models import DatasetDefinition, ParameterType, Technique
from techniques.validation import validate_parameters
from techniques.vocabulary import current_vocabulary

from .test_loading import GOOD, write

T = ParameterType.ValueType


def entry(name="TESTVOC_length", unit="angstrom") -> ParameterType:
    parameter, _ = ParameterType.objects.update_or_create(
        name=name, defaults={"label": name, "value_type": T.NUMERIC, "unit": unit}
    )
    return parameter


@pytest.mark.django_db
def test_unchanged_it_costs_one_query_of_its_version(django_assert_num_queries):
    entry()
    current_vocabulary()
    with django_assert_num_queries(1):
        result = validate_parameters({"TESTVOC_length": {"value": 1, "unit": "nm"}, "TESTVOC_unknown": 1})
    assert result.values == {"TESTVOC_length": pytest.approx(10)}
    assert result.errors == {"TESTVOC_unknown": "not in the vocabulary"}


@pytest.mark.django_db
def test_a_saved_or_deleted_entry_is_seen_at_once():
    length = entry()
    assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "angstrom"
    length.unit = "nm"
    length.save()
    assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "nm"
    technique = Technique.objects.create(code="TESTVOC", name="Vocabulary test")
    definition = DatasetDefinition.objects.create(code="TESTVOC_raw", label="Raw", kind="raw", technique=technique)
    assert "TESTVOC_raw" in current_vocabulary().definitions
    definition.delete()
    length.delete()
    vocabulary = current_vocabulary()
    assert "TESTVOC_raw" not in vocabulary.definitions and "TESTVOC_length" not in vocabulary.parameter_types


@pytest.mark.django_db
def test_a_sync_is_seen_at_once(tmp_path):
    path = write(tmp_path, "test.yaml", GOOD)
    sync_definitions(tmp_path)
    assert current_vocabulary().parameter_types["TESTLOAD_wavelength"].unit == "angstrom"
    path.write_text(path.read_text().replace("unit: angstrom", "unit: nm"))
    sync_definitions(tmp_path)
    assert current_vocabulary().parameter_types["TESTLOAD_wavelength"].unit == "nm"


@pytest.mark.django_db
def test_a_rolled_back_change_is_forgotten():
    entry()
    with pytest.raises(RuntimeError), transaction.atomic():
        entry(unit="nm")
        assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "nm"
        raise RuntimeError("roll back")
    assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "angstrom"


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_elsewhere_is_seen_by_the_next_read():
    """Another connection stands for another process (a sync, the admin): it writes only the
    database, never this process's cache."""
    entry()
    assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "angstrom"

    def elsewhere():
        try:
            with transaction.atomic():
                entry(unit="nm")
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert current_vocabulary().parameter_types["TESTVOC_length"].unit == "nm"
