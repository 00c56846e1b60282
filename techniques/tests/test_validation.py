"""Sent parameters against the vocabulary: names, value types, units (pint)."""

import pytest

from techniques.models import ParameterType
from techniques.validation import validate_parameters

pytestmark = pytest.mark.django_db

T = ParameterType.ValueType


def vocabulary_entry(name, value_type, unit=""):
    """Exactly this type and unit, whatever the definition files loaded on migrate say."""
    entry, _ = ParameterType.objects.update_or_create(
        name=name, defaults={"label": name, "value_type": value_type, "unit": unit}
    )
    return entry


@pytest.fixture(autouse=True)
def vocabulary():
    return {
        entry.name: entry
        for entry in [
            vocabulary_entry("InstrumentMonochromator_energy", T.NUMERIC, "keV"),
            vocabulary_entry("TEST_resolution", T.NUMERIC, "angstrom"),
            vocabulary_entry("TEST_count", T.NUMERIC),
            vocabulary_entry("TEST_detector", T.STRING),
            vocabulary_entry("TEST_flag", T.BOOLEAN),
            vocabulary_entry("TEST_time", T.DATETIME),
        ]
    }


def test_energy_in_ev_is_stored_in_kev(vocabulary):
    result = validate_parameters({"InstrumentMonochromator_energy": {"value": 12848, "unit": "eV"}})
    assert result.errors == {}
    assert result.values["InstrumentMonochromator_energy"] == pytest.approx(12.848)
    assert result.types["InstrumentMonochromator_energy"] == vocabulary["InstrumentMonochromator_energy"]


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"value": 1.5, "unit": "angstrom"}, 1.5),
        ({"value": 0.15, "unit": "nm"}, 1.5),
        ({"value": 1.5e-10, "unit": "m"}, 1.5),
        ({"value": 150, "unit": "pm"}, 1.5),
        ({"value": 1.5, "unit": ""}, 1.5),  # empty unit: already in the vocabulary's unit
        ({"value": 1.5}, 1.5),
        (1.5, 1.5),
        (2, 2.0),
    ],
)
def test_lengths_convert_to_the_vocabulary_unit(sent, expected):
    result = validate_parameters({"TEST_resolution": sent})
    assert result.errors == {}
    assert result.values["TEST_resolution"] == pytest.approx(expected)
    assert isinstance(result.values["TEST_resolution"], float)


@pytest.mark.parametrize(
    "sent", ["12.5", " 12.5", "1.25e1", {"value": "12.5", "unit": "keV"}, {"value": "12500", "unit": "eV"}]
)
def test_numeric_strings_are_numbers(sent):
    result = validate_parameters({"InstrumentMonochromator_energy": sent})
    assert result.errors == {}
    assert result.values["InstrumentMonochromator_energy"] == pytest.approx(12.5)


def test_unknown_names_are_errors():
    result = validate_parameters({"MX_x": 1, "TEST_count": 3})
    assert result.errors == {"MX_x": "not in the vocabulary"}
    assert result.values == {"TEST_count": 3.0}


@pytest.mark.parametrize(
    ("name", "sent", "reason"),
    [
        ("TEST_count", "abc", "expected a number, got 'abc'"),
        ("TEST_count", True, "expected a number, got a boolean"),
        ("TEST_count", [1, 2], "expected a number, got list"),
        ("TEST_count", None, "expected a number, got NoneType"),
        ("TEST_count", "nan", "expected a finite number"),
        ("TEST_count", "inf", "expected a finite number"),
        ("TEST_detector", {"name": "EIGER"}, 'expected a value or {"value": ..., "unit": ...}'),
        ("TEST_detector", ["EIGER"], "expected a string, got list"),
        ("TEST_detector", False, "expected a string, got bool"),
        ("TEST_flag", "yes", "expected true or false, got 'yes'"),
        ("TEST_flag", 1, "expected true or false, got '1'"),
        ("TEST_time", "yesterday", "expected an ISO 8601 date and time, got 'yesterday'"),
        ("TEST_time", 1700000000, "expected an ISO 8601 date and time, got '1700000000'"),
    ],
)
def test_wrong_types_are_errors(name, sent, reason):
    result = validate_parameters({name: sent})
    assert result.errors == {name: reason}
    assert name not in result.values


@pytest.mark.parametrize(
    ("name", "sent", "reason"),
    [
        ("TEST_resolution", {"value": 1, "unit": "keV"}, "unit 'keV' cannot be converted to 'angstrom'"),
        ("InstrumentMonochromator_energy", {"value": 1, "unit": "mm"}, "unit 'mm' cannot be converted to 'keV'"),
        ("TEST_resolution", {"value": 1, "unit": "furlongz"}, "unknown unit 'furlongz'"),
        ("TEST_count", {"value": 1, "unit": "mm"}, "takes no unit, got 'mm'"),
        ("TEST_detector", {"value": "EIGER", "unit": "mm"}, "a string value takes no unit"),
        (
            "TEST_resolution",
            {"value": 1, "unit": "nm", "error": 0.1},
            'expected a value or {"value": ..., "unit": ...}',
        ),
        ("TEST_resolution", {"unit": "nm"}, 'expected a value or {"value": ..., "unit": ...}'),
    ],
)
def test_unconvertible_or_misplaced_units_are_errors(name, sent, reason):
    result = validate_parameters({name: sent})
    assert result.errors == {name: reason}
    assert result.values == {}


@pytest.mark.parametrize(
    ("name", "sent", "expected"),
    [
        ("TEST_detector", "EIGER2 X 16M", "EIGER2 X 16M"),
        ("TEST_detector", 16, "16"),
        ("TEST_flag", True, True),
        ("TEST_flag", "False", False),
        ("TEST_time", "2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00+01:00"),
        ("TEST_time", "2024-03-01 10:00:00Z", "2024-03-01T10:00:00+00:00"),
    ],
)
def test_strings_booleans_and_datetimes(name, sent, expected):
    result = validate_parameters({name: sent})
    assert result.errors == {}
    assert result.values == {name: expected}


def test_every_problem_is_reported_at_once():
    result = validate_parameters(
        {
            "MX_x": 1,
            "TEST_count": "many",
            "TEST_resolution": {"value": 2, "unit": "s"},
            "InstrumentMonochromator_energy": {"value": 12848, "unit": "eV"},
        }
    )
    assert set(result.errors) == {"MX_x", "TEST_count", "TEST_resolution"}
    assert set(result.values) == {"InstrumentMonochromator_energy"}


def test_validation_reads_the_vocabulary_in_one_query(django_assert_num_queries):
    parameters = {"TEST_count": 1, "TEST_resolution": 2, "TEST_detector": "x", "TEST_flag": True, "MX_x": 0}
    with django_assert_num_queries(1):
        validate_parameters(parameters)


def test_no_parameters_is_valid():
    result = validate_parameters({})
    assert (result.values, result.errors) == ({}, {})
