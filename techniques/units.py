"""Unit handling with pint: parse vocabulary units, convert sent values to them."""

from functools import lru_cache

import pint

registry = pint.UnitRegistry()


class UnitError(ValueError):
    pass


@lru_cache(maxsize=512)
def parse_unit(expression: str) -> pint.Unit | None:
    if not expression:
        return None
    try:
        return registry.Unit(expression)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError, ValueError) as exc:
        raise UnitError(f"unknown unit '{expression}'") from exc


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert value from from_unit to to_unit; UnitError when they are not compatible."""
    factor = _factor(from_unit, to_unit)
    if factor is None:  # units with an offset (degC -> K): pint converts each value
        return float(registry.Quantity(value, parse_unit(from_unit)).to(parse_unit(to_unit)).magnitude)
    return float(value) * factor  # what pint computes for these units, without its cost per value


@lru_cache(maxsize=512)
def _factor(from_unit: str, to_unit: str) -> float | None:
    """The factor from one unit to the other, once per pair; None when the conversion has an offset."""
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    if source == target:
        return 1.0
    if target is None:
        raise UnitError(f"takes no unit, got '{from_unit}'")
    if source is None:
        raise UnitError(f"needs a unit compatible with '{to_unit}'")
    try:
        zero, one = (float(registry.Quantity(x, source).to(target).magnitude) for x in (0.0, 1.0))
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"unit '{from_unit}' cannot be converted to '{to_unit}'") from exc
    return one if zero == 0 else None


# Where pint's short form is not what scientists write.
_SYMBOLS = {"deg": "°", "percent": "%"}


def unit_symbol(expression: str) -> str:
    """Short display form: 'angstrom' -> 'Å', 'degree' -> '°', 'keV' -> 'keV'."""
    unit = parse_unit(expression)
    if unit is None:
        return ""
    symbol = f"{unit:~P}"
    return _SYMBOLS.get(symbol, symbol)
