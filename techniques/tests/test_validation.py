"""Sent parameters against the vocabulary: names, value types, units (pint)."""

import pytest

from techniques.models import DatasetDefinition, ParameterType, Technique
from techniques.validation import check_definition, validate_parameters

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
    ("sent", "expected"),
    [
        ({"value": 160, "unit": "1/nm"}, 16.0),
        ({"value": "160", "unit": "1/nm"}, 16.0),
        ({"value": 0.0625, "unit": "1/nm"}, 0.00625),
        ({"value": 16.0, "unit": "1/angstrom"}, 16.0),
    ],
)
def test_converted_values_are_stored_at_the_precision_they_were_sent_with(sent, expected):
    """160 1/nm is 16.0 1/Å, not pint's 15.999999999999998 (units.convert)."""
    vocabulary_entry("TEST_q", T.NUMERIC, "1/angstrom")
    result = validate_parameters({"TEST_q": sent, "InstrumentMonochromator_energy": {"value": 12848, "unit": "eV"}})
    assert result.errors == {}
    assert result.values == {"TEST_q": expected, "InstrumentMonochromator_energy": 12.848}


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


def test_no_parameters_is_valid():
    result = validate_parameters({})
    assert (result.values, result.errors) == ({}, {})


# --- Rules of the vocabulary and of the definition ------------------------------------------------


def ruled(name, value_type, unit="", **rules):
    entry = vocabulary_entry(name, value_type, unit)
    for rule, value in rules.items():
        setattr(entry, rule, value)
    entry.save()  # not QuerySet.update(): the vocabulary's cache hears of a change through save()
    return entry


@pytest.mark.parametrize(
    ("sent", "error"),
    [
        ({"value": 0.05, "unit": "nm"}, "value 0.5 Å breaks rule: minimum 0.8 Å"),
        (120, "value 120 Å breaks rule: maximum 100 Å"),
        ({"value": 1, "unit": "nm"}, None),
    ],
)
def test_range_is_checked_in_the_vocabulary_unit(sent, error):
    ruled("TEST_ranged", T.NUMERIC, "angstrom", minimum=0.8, maximum=100)
    result = validate_parameters({"TEST_ranged": sent})
    assert result.errors == ({"TEST_ranged": error} if error else {})
    assert "TEST_ranged" in result.values  # readable: kept for a lenient instrument


def test_permitted_values():
    ruled("TEST_mode", T.STRING, permitted_values=["sample", "buffer"])
    assert validate_parameters({"TEST_mode": "buffer"}).errors == {}
    assert validate_parameters({"TEST_mode": "water"}).errors == {
        "TEST_mode": "value 'water' breaks rule: one of 'sample', 'buffer'"
    }


@pytest.fixture
def definitions():
    mine = Technique.objects.create(code="TESTA", name="A")
    other = Technique.objects.create(code="TESTB", name="B")
    ParameterType.objects.create(name="TESTA_x", label="x", value_type=T.NUMERIC, technique=mine)
    ParameterType.objects.create(name="TESTA_y", label="y", value_type=T.NUMERIC, technique=mine)
    ParameterType.objects.create(name="TESTB_z", label="z", value_type=T.NUMERIC, technique=other)
    raw = DatasetDefinition.objects.create(code="TESTA_RAW", label="raw", kind="raw", technique=mine)
    processed = DatasetDefinition.objects.create(
        code="TESTA_PROC",
        label="processed",
        kind="processed",
        technique=mine,
        requires=["TESTA_y"],
        expects=["TESTA_y"],
        input_definitions=["TESTA_RAW"],
        input_min=1,
        input_max=1,
    )
    return raw, processed


def test_required_and_other_techniques_parameters(definitions):
    _, processed = definitions
    validated = validate_parameters({"TESTA_x": 1, "TESTB_z": 2, "TEST_count": 3})  # TEST_count: shared
    assert check_definition(processed, validated, [("/raw", "TESTA_RAW")]) == {
        "parameters": {
            "TESTA_y": "no value breaks rule: TESTA_PROC requires TESTA_y",
            "TESTB_z": "value 2 breaks rule: TESTA_PROC does not expect TESTB_z",
        }
    }


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ([("/raw", "TESTA_RAW")], None),
        ([], "0 inputs break rule: TESTA_PROC takes at least 1"),
        ([("/a", "TESTA_RAW"), ("/b", "TESTA_RAW")], "2 inputs break rule: TESTA_PROC takes at most 1"),
        ([("/p", "TESTA_PROC")], "input /p breaks rule: TESTA_PROC takes inputs of TESTA_RAW only"),
        ([("/n", None)], "input /n breaks rule: TESTA_PROC takes inputs of TESTA_RAW only"),
    ],
)
def test_inputs_and_their_number(definitions, inputs, error):
    _, processed = definitions
    problems = check_definition(processed, validate_parameters({"TESTA_y": 1}), inputs)
    assert problems == ({"inputs": error} if error else {})
