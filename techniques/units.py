"""Unit handling with pint: parse vocabulary units, convert sent values to them."""

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import pint

registry = pint.UnitRegistry()


class UnitError(ValueError):
    pass


MAX_UNIT_LENGTH = 100
# A power's exponent: a short number, not itself raised to a power. pint evaluates the expression
# with Python's operators, and "10**10**10" would compute a number of ten billion digits.
_EXPONENT = re.compile(r"\s*[-+]?\d{1,2}(\.\d{1,3})?(?![\w.])(?!\s*(\*\*|\^))")


def parse_unit(expression: str) -> pint.Unit | None:
    if not isinstance(expression, str):
        raise UnitError(f"a unit is a string, got {type(expression).__name__}")
    return _parse_unit(expression)


@lru_cache(maxsize=512)
def _parse_unit(expression: str) -> pint.Unit | None:
    if not expression:
        return None
    unknown = UnitError(f"unknown unit '{expression[:MAX_UNIT_LENGTH]}'")
    if len(expression) > MAX_UNIT_LENGTH or not expression.isprintable():
        raise unknown
    for power in re.finditer(r"\*\*|\^", expression):
        if not _EXPONENT.match(expression, power.end()):
            raise unknown
    try:
        return registry.Unit(expression)
    except Exception as exc:  # pint's parser lets through whatever Python's operators raise ("1/0", "m/")
        raise unknown from exc


def convert(value: float, from_unit: str, to_unit: str, *, sent=None) -> float:
    """Convert value from from_unit to to_unit; UnitError when they are not compatible or the
    result is not a finite number.

    sent: the value as the client wrote it (a JSON number or a numeric string). The result is then
    rounded to the precision that value carried (see sent_exponent): 160 1/nm is 16.0 1/Å, not
    15.999999999999998.
    """
    if not isinstance(from_unit, str):
        raise UnitError(f"a unit is a string, got {type(from_unit).__name__}")
    value = float(value)  # a Decimal (a filter's bound) does not mix with pint's floats
    factor = _factor(from_unit, to_unit)
    if factor is None:  # units with an offset (degC -> K): pint converts each value
        result = float(registry.Quantity(value, parse_unit(from_unit)).to(parse_unit(to_unit)).magnitude)
    else:
        result = value * factor  # what pint computes for these units, without its cost per value
    if not math.isfinite(result):
        raise UnitError(f"{value:g} {from_unit} is out of range in '{to_unit}'")
    if sent is not None and (exponent := sent_exponent(sent)) is not None:
        result = _rounded(result, _slope(from_unit, to_unit), exponent)
    return result


def sent_exponent(sent) -> int | None:
    """The place of the last digit of a number as it was written: 160 -> 0, 0.05 -> -2, 1.5e3 -> 2,
    '12.50' -> -2; None when it is not a number."""
    if isinstance(sent, bool) or not isinstance(sent, (int, float, str)):
        return None
    try:
        exponent = Decimal(repr(sent) if isinstance(sent, float) else str(sent)).as_tuple().exponent
    except (InvalidOperation, ValueError):  # ValueError: an integer of more digits than str() writes
        return None
    return exponent if isinstance(exponent, int) else None  # 'n', 'F': NaN and infinity


def _rounded(result: float, slope: float, exponent: int) -> float:
    """result rounded to one digit finer than the sent value's last digit, in the new unit.

    A last digit in place 10**exponent is worth |slope| * 10**exponent in the new unit; the result
    keeps the digit of that place and one more. The rounding is then under a twentieth of the sent
    last digit, so the stored value converted back gives what was sent, and pint's float noise
    (15.999999999999998) goes. Offsets (degC -> K) add no precision: only the slope counts.
    """
    if result == 0 or slope == 0 or not math.isfinite(slope):
        return result
    place = math.floor(math.log10(abs(slope)) + exponent + 1e-9)  # 1e-9: a slope of 0.09999999999999999
    try:
        rounded = round(result, 1 - place)
    except (OverflowError, ValueError):
        return result
    return rounded if math.isfinite(rounded) else result


@lru_cache(maxsize=512)
def _slope(from_unit: str, to_unit: str) -> float:
    """How much one unit of from_unit is in to_unit (also for units with an offset)."""
    factor = _factor(from_unit, to_unit)
    if factor is not None:
        return factor
    zero, one = (registry.Quantity(x, parse_unit(from_unit)).to(parse_unit(to_unit)).magnitude for x in (0.0, 1.0))
    return float(one - zero)


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
    except (OverflowError, ZeroDivisionError) as exc:  # "km**99" to "nm**99"
        raise UnitError(f"unit '{from_unit}' is out of range in '{to_unit}'") from exc
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
