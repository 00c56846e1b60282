"""Reads for the portal pages: parameters with their vocabulary labels and units."""

from dataclasses import dataclass

from django.db.models import Case, QuerySet, Value, When

from techniques.models import ParameterType
from techniques.units import unit_symbol

from .models import Dataset, Investigation, InvestigationUser

# Parameters shown in a dataset's summary when its definition names none.
SUMMARY_FALLBACK = 12


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    value: object
    unit: str  # display symbol, e.g. "Å"
    description: str = ""

    @property
    def group(self) -> str:
        """The prefix before the first underscore: MX, MXAutoprocIntegration, InstrumentMonochromator."""
        return self.name.split("_", 1)[0]


def parameter_rows(values: dict, names: list[str]) -> list[Parameter]:
    """The named parameters present in values, in the order given; one query for the vocabulary."""
    names = [name for name in names if name in values]
    types = {t.name: t for t in ParameterType.objects.filter(name__in=names)} if names else {}
    rows = []
    for name in names:
        parameter_type = types.get(name)
        if parameter_type is None:  # dropped from the vocabulary since the dataset was stored
            rows.append(Parameter(name, name, values[name], ""))
        else:
            rows.append(
                Parameter(
                    name,
                    parameter_type.label,
                    values[name],
                    unit_symbol(parameter_type.unit),
                    parameter_type.description,
                )
            )
    return rows


def dataset_summary(dataset: Dataset) -> list[Parameter]:
    """The key parameters of a dataset: its definition's summary, else the first ones by name."""
    summary = dataset.definition.summary if dataset.definition else []
    if not any(name in dataset.parameters for name in summary):
        summary = sorted(dataset.parameters)[:SUMMARY_FALLBACK]
    return parameter_rows(dataset.parameters, summary)


def grouped_parameters(values: dict) -> list[tuple[str, list[Parameter]]]:
    """All parameters, grouped by prefix, groups and names sorted."""
    groups: dict[str, list[Parameter]] = {}
    for row in parameter_rows(values, sorted(values)):
        groups.setdefault(row.group, []).append(row)
    return sorted(groups.items())


def investigation_members(investigation: Investigation) -> QuerySet[InvestigationUser]:
    """Participants and their roles, principal investigators first."""
    roles = InvestigationUser.Role.values
    role_order = Case(*[When(role=role, then=Value(i)) for i, role in enumerate(roles)], default=Value(len(roles)))
    return (
        InvestigationUser.objects.filter(investigation=investigation)
        .select_related("user")
        .order_by(role_order, "user__last_name", "user__first_name", "user__username")
    )
