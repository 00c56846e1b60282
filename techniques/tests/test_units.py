"""Conversions with factors cached per unit pair give pint's own results, offsets included."""

import random
from decimal import Decimal

import pytest

from techniques.units import UnitError, convert, registry


@pytest.mark.parametrize(
    ("value", "source", "target"),
    [(12848, "eV", "keV"), (0.15, "nm", "angstrom"), (150, "pm", "angstrom"), (2.5, "mrad", "degree")],
)
def test_a_factor_gives_pints_value_exactly(value, source, target):
    expected = float(registry.Quantity(value, source).to(target).magnitude)
    assert convert(value, source, target) == expected
    assert convert(value, source, target) == expected  # the second time from the cached factor


@pytest.mark.parametrize(("value", "expected"), [(20, 293.15), (-273.15, 0.0), (0, 273.15)])
def test_units_with_an_offset_convert_each_value(value, expected):
    assert convert(value, "degC", "kelvin") == pytest.approx(expected)


def test_incompatible_units_stay_errors_on_each_call():
    for _ in range(2):
        with pytest.raises(UnitError, match="unit 'mm' cannot be converted to 'keV'"):
            convert(1, "mm", "keV")


# --- Converted values keep the precision they were sent with ---------------------------------------


@pytest.mark.parametrize(
    ("sent", "source", "target", "expected"),
    [
        (160, "1/nm", "1/angstrom", 16.0),  # not 15.999999999999998
        ("1.60e2", "1/nm", "1/angstrom", 16.0),
        (1.5, "inch", "mm", 38.1),  # not 38.099999999999994
        (100, "degF", "degC", 37.78),  # not 37.77777777777783
        (20.5, "degC", "kelvin", 293.65),  # an offset adds no digit, nor takes one away
        (20.123456, "degC", "kelvin", 293.273456),
        (0.05, "s", "ms", 50.0),
        ("12.848", "keV", "eV", 12848.0),
        (12848, "eV", "keV", 12.848),
        (355, "ms", "s", 0.355),
        (0.30000000000000004, "s", "ms", 300.00000000000006),  # sent with 17 digits: kept
    ],
)
def test_a_converted_value_keeps_the_precision_it_was_sent_with(sent, source, target, expected):
    assert convert(float(sent), source, target, sent=sent) == expected


def test_without_the_sent_value_nothing_is_rounded():
    """A filter's bound is converted as is: only stored values are rounded."""
    assert convert(160, "1/nm", "1/angstrom") == float(registry.Quantity(160, "1/nm").to("1/angstrom").magnitude)


@pytest.mark.parametrize(
    ("source", "target"),
    [("1/nm", "1/angstrom"), ("inch", "mm"), ("degF", "degC"), ("degC", "kelvin"), ("eV", "keV"), ("ms", "h")],
)
def test_the_stored_value_converts_back_to_what_was_sent(source, target):
    """The rounding never costs a digit the client sent: converted back, the value is the one sent."""
    generator = random.Random(12)
    for _ in range(300):
        decimals = generator.randint(0, 6)
        text = f"{generator.uniform(-1000, 1000):.{decimals}f}"
        stored = convert(float(text), source, target, sent=text)
        back = Decimal(repr(convert(stored, target, source))).quantize(Decimal(1).scaleb(-decimals))
        assert back == Decimal(text), (text, stored)
