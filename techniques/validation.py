"""Check what a dataset carries against the vocabulary and its definition.

validate_parameters: names, value types, units (converted to the vocabulary's), ranges and
permitted values; validate_plan: the same for a sample's experiment or processing plan, against
its technique's plans. check_definition: required and expected parameters, allowed inputs and their
number. Both return problems by field, each naming the value and the rule it breaks; the caller
decides whether they reject the dataset (strict) or flag it (lenient).
"""

import math
from dataclasses import dataclass, field

from django.utils.dateparse import parse_datetime

from .models import DatasetDefinition, ParameterType
from .units import UnitError, convert, unit_symbol
from .vocabulary import Vocabulary, current_vocabulary

ValueType = ParameterType.ValueType


@dataclass
class ValidatedParameters:
    # name -> value in the vocabulary's unit: every value that could be read, even one out of range
    values: dict = field(default_factory=dict)
    types: dict = field(default_factory=dict)  # name -> ParameterType, for each of values
    errors: dict = field(default_factory=dict)  # name -> reason


def _numeric(raw):
    if isinstance(raw, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:  # an integer of 400 digits
            raise ValueError("expected a finite number") from None
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


def validate_parameters(parameters: dict, vocabulary: Vocabulary | None = None) -> ValidatedParameters:
    """Each value is a scalar in the vocabulary's unit or {"value": ..., "unit": ...}.
    vocabulary: the current one unless given."""
    types = (vocabulary or current_vocabulary()).parameter_types
    return _validate(parameters, types, "not in the vocabulary")


def _validate(sent_values: dict, types: dict[str, ParameterType], unknown: str) -> ValidatedParameters:
    result = ValidatedParameters()
    for name, sent in sent_values.items():
        parameter_type = types.get(name)
        if parameter_type is None:
            result.errors[name] = unknown
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
                # Rounded to the precision the value was sent with (units.convert): no float noise.
                value = convert(value, unit, parameter_type.unit, sent=raw)
        except (ValueError, UnitError) as exc:
            result.errors[name] = str(exc)
            continue
        result.values[name] = value
        result.types[name] = parameter_type
        if broken := _broken_rule(parameter_type, value):
            result.errors[name] = broken
    return result


# A free plan's keys and values (a technique that declares no plan of that kind).
FREE_PLAN_KEY_LENGTH = 64
FREE_PLAN_VALUE_LENGTH = 1000


def validate_plan(plans: dict, kind: str, sent: dict) -> ValidatedParameters:
    """A sample's experiment or processing plan (kind) against its technique's plans (Technique.plans):
    keys, types, units and rules as for parameters (a value in the plan's unit, or {"value", "unit"}).
    A technique that declares no plan of this kind takes free keys with text, number or boolean values."""
    entries = plans.get(kind)
    if entries is None:
        return _free_plan(sent)
    types = {
        entry["key"]: ParameterType(
            name=entry["key"],
            label=entry["label"],
            value_type=entry["type"],
            unit=entry.get("unit", ""),
            minimum=entry.get("minimum"),
            maximum=entry.get("maximum"),
            permitted_values=entry.get("permitted_values", []),
        )
        for entry in entries
    }
    return _validate(sent, types, f"not a key of the {kind} plan (one of {', '.join(types)})")


def _free_plan(sent: dict) -> ValidatedParameters:
    result = ValidatedParameters()
    for key, value in sent.items():
        if not isinstance(key, str) or not key.strip() or len(key) > FREE_PLAN_KEY_LENGTH:
            result.errors[str(key)[:FREE_PLAN_KEY_LENGTH]] = f"a key is 1 to {FREE_PLAN_KEY_LENGTH} characters"
        elif not isinstance(value, (str, int, float, bool)) or (isinstance(value, float) and not math.isfinite(value)):
            result.errors[key] = "expected text, a finite number or true/false"
        elif isinstance(value, str) and len(value) > FREE_PLAN_VALUE_LENGTH:
            result.errors[key] = f"at most {FREE_PLAN_VALUE_LENGTH} characters"
        else:
            result.values[key] = value
    return result


def _shown(value, unit: str = "") -> str:
    text = f"{value:g}" if isinstance(value, float) else repr(value)
    return f"{text} {unit_symbol(unit)}".rstrip()


def _broken_rule(parameter_type: ParameterType, value) -> str:
    """The vocabulary's range and permitted values; '' when the value keeps them."""
    unit = parameter_type.unit
    if parameter_type.value_type == ValueType.NUMERIC:
        if parameter_type.minimum is not None and value < parameter_type.minimum:
            return f"value {_shown(value, unit)} breaks rule: minimum {_shown(parameter_type.minimum, unit)}"
        if parameter_type.maximum is not None and value > parameter_type.maximum:
            return f"value {_shown(value, unit)} breaks rule: maximum {_shown(parameter_type.maximum, unit)}"
    permitted = parameter_type.permitted_values
    if permitted and value not in permitted:
        return f"value {_shown(value, unit)} breaks rule: one of {', '.join(_shown(v) for v in permitted)}"
    return ""


def check_definition(
    definition: DatasetDefinition, validated: ValidatedParameters, inputs: list[tuple[str, str | None]]
) -> dict:
    """The definition's rules. inputs: (location, definition code or None) of each input dataset.

    Returns {"parameters": {name: reason}, "inputs": reason}, only the keys with problems.
    """
    parameters = {}
    for name in definition.requires:
        if name not in validated.values and name not in validated.errors:
            parameters[name] = f"no value breaks rule: {definition.code} requires {name}"
    if definition.expects:
        # The consistency of a technique: no parameters of another technique unless expected.
        listed = {*definition.expects, *definition.requires, *definition.summary}
        for name, parameter_type in validated.types.items():
            own = parameter_type.technique_id in (None, definition.technique_id)
            if not own and name not in listed:
                parameters[name] = (
                    f"value {_shown(validated.values[name], parameter_type.unit)} breaks rule: "
                    f"{definition.code} does not expect {name}"
                )
    problems = {"parameters": parameters} if parameters else {}
    if definition.input_definitions:
        allowed = set(definition.input_definitions)
        # Worded as a broken rule, like the others: under lenient validation the dataset is stored with it.
        others = [location for location, code in inputs if code not in allowed]
        if others:
            noun, verb = ("input", "breaks") if len(others) == 1 else ("inputs", "break")
            problems["inputs"] = (
                f"{noun} {', '.join(others)} {verb} rule: {definition.code} takes inputs of "
                f"{', '.join(sorted(allowed))} only"
            )
    count = len(inputs)
    if definition.input_min is not None and count < definition.input_min:
        problems.setdefault(
            "inputs", f"{count} inputs break rule: {definition.code} takes at least {definition.input_min}"
        )
    if definition.input_max is not None and count > definition.input_max:
        problems.setdefault(
            "inputs", f"{count} inputs break rule: {definition.code} takes at most {definition.input_max}"
        )
    return problems
