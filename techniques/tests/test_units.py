"""Conversions with factors cached per unit pair give pint's own results, offsets included."""

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
