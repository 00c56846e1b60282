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
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    if source == target:
        return value
    if target is None:
        raise UnitError(f"takes no unit, got '{from_unit}'")
    if source is None:
        raise UnitError(f"needs a unit compatible with '{to_unit}'")
    try:
        return float(registry.Quantity(value, source).to(target).magnitude)
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"unit '{from_unit}' cannot be converted to '{to_unit}'") from exc


# Where pint's short form is not what scientists write.
_SYMBOLS = {"deg": "°", "percent": "%"}


def unit_symbol(expression: str) -> str:
    """Short display form: 'angstrom' -> 'Å', 'degree' -> '°', 'keV' -> 'keV'."""
    unit = parse_unit(expression)
    if unit is None:
        return ""
    symbol = f"{unit:~P}"
    return _SYMBOLS.get(symbol, symbol)
