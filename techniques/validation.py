"""Check sent parameters against the vocabulary: names, value types and units."""

import math
from dataclasses import dataclass, field

from django.utils.dateparse import parse_datetime

from .models import ParameterType
from .units import UnitError, convert

ValueType = ParameterType.ValueType


@dataclass
class ValidatedParameters:
    values: dict = field(default_factory=dict)  # name -> value in the vocabulary's unit
    types: dict = field(default_factory=dict)  # name -> ParameterType
    errors: dict = field(default_factory=dict)  # name -> reason


def _numeric(raw):
    if isinstance(raw, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got '{raw}'") from None
    else:
        raise ValueError(f"expected a number, got {type(raw).__name__}")
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _string(raw):
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"expected a string, got {type(raw).__name__}")


def _datetime(raw):
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None:
        raise ValueError(f"expected an ISO 8601 date and time, got '{raw}'")
    return parsed.isoformat()


def _boolean(raw):
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError(f"expected true or false, got '{raw}'")


_PARSERS = {
    ValueType.NUMERIC: _numeric,
    ValueType.STRING: _string,
    ValueType.DATETIME: _datetime,
    ValueType.BOOLEAN: _boolean,
}


def validate_parameters(parameters: dict) -> ValidatedParameters:
    """Each value is a scalar in the vocabulary's unit or {"value": ..., "unit": ...}."""
    result = ValidatedParameters()
    vocabulary = {p.name: p for p in ParameterType.objects.filter(name__in=list(parameters))}
    for name, sent in parameters.items():
        parameter_type = vocabulary.get(name)
        if parameter_type is None:
            result.errors[name] = "not in the vocabulary"
            continue
        raw, unit = sent, None
        if isinstance(sent, dict):
            if set(sent) - {"value", "unit"} or "value" not in sent:
                result.errors[name] = 'expected a value or {"value": ..., "unit": ...}'
                continue
            raw, unit = sent["value"], sent.get("unit")
        try:
            value = _PARSERS[parameter_type.value_type](raw)
            if unit not in (None, "", parameter_type.unit):
                if parameter_type.value_type != ValueType.NUMERIC:
                    raise UnitError(f"a {parameter_type.value_type} value takes no unit")
                value = convert(value, unit, parameter_type.unit)
        except (ValueError, UnitError) as exc:
            result.errors[name] = str(exc)
            continue
        result.values[name] = value
        result.types[name] = parameter_type
    return result
