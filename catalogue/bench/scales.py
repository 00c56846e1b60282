"""What the synthetic catalogue is made of: its scales, the mix of techniques and, per technique,
the definitions it draws datasets from with the parameters they carry."""

from dataclasses import dataclass, field

from techniques.models import DatasetDefinition, ParameterType, Technique

# The techniques of the mix, with their share of the instruments and the prefix of their names.
TECHNIQUES = {"MX": (0.5, "ID"), "SAXS": (0.15, "BM"), "EM": (0.2, "CM"), "TOMO": (0.15, "ID")}
# Bounds of values whose vocabulary entry gives none, or too wide a one, for realistic searches.
VALUE_RANGES = {"MX_resolution": (0.8, 4.0), "MX_resolution_at_corner": (0.6, 3.5)}
DEFAULT_LOW, DEFAULT_SPAN = 0.0, 100.0  # for bounds the vocabulary leaves open


@dataclass(frozen=True)
class Scale:
    instruments: int
    users: int
    investigations: int
    datasets: int
    bench_investigation_datasets: int
    huge_datasets: int  # datasets with huge_files files each; the others have 10-200 (20 on average)
    huge_files: int

    @property
    def bench_user_investigations(self) -> int:
        return min(3000, max(1, self.investigations * 3 // 10))


SCALES = {
    "tiny": Scale(4, 30, 10, 500, 200, 1, 2_000),
    "small": Scale(30, 200, 100, 10_000, 5_000, 1, 100_000),
    "medium": Scale(30, 1_000, 1_000, 100_000, 10_000, 2, 100_000),
    "large": Scale(30, 5_000, 10_000, 1_000_000, 10_000, 10, 100_000),
}


class GeneratorError(Exception):
    pass


@dataclass
class DefinitionPlan:
    definition: DatasetDefinition
    parameters: list[tuple[str, int, float, float, bool]]  # name, type id, low, high, searchable
    followers: list["DefinitionPlan"] = field(default_factory=list)


def definition_plans() -> dict[str, list[DefinitionPlan]]:
    """Per technique of the mix, its raw definitions, each with what may process it."""
    numeric = {t.name: t for t in ParameterType.objects.filter(value_type=ParameterType.ValueType.NUMERIC)}
    plans: dict[str, DefinitionPlan] = {}
    techniques = Technique.objects.filter(code__in=list(TECHNIQUES))
    missing = set(TECHNIQUES) - {t.code for t in techniques}
    if missing:
        raise GeneratorError(f"the vocabulary lacks the techniques {', '.join(sorted(missing))}")
    for definition in DatasetDefinition.objects.filter(technique__in=techniques).select_related("technique"):
        parameters = []
        for name in dict.fromkeys(_named_parameters(definition)):
            if name in numeric:
                t = numeric[name]
                low, high = VALUE_RANGES.get(name, (t.minimum, t.maximum))
                low = DEFAULT_LOW if low is None else low
                high = low + DEFAULT_SPAN if high is None else high
                parameters.append((name, t.pk, low, high, t.searchable))
        plans[definition.code] = DefinitionPlan(definition, parameters)
    raw: dict[str, list[DefinitionPlan]] = {code: [] for code in TECHNIQUES}
    for plan in plans.values():
        if plan.definition.kind == DatasetDefinition.Kind.RAW:
            raw[plan.definition.technique.code].append(plan)
        for code in plan.definition.input_definitions:
            if code in plans:
                plans[code].followers.append(plan)
    return raw


def _named_parameters(definition: DatasetDefinition) -> list[str]:
    """The parameters a definition expects, requires, summarises or shows in its tabs."""
    names = [*definition.requires, *definition.expects, *definition.summary]
    for tab in definition.views.get("tabs", []):
        names += [name for name in tab.get("fields", []) if isinstance(name, str)]
    return names
