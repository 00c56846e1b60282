"""The vocabulary, browsable: techniques, their parameters and dataset definitions. Public."""

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, render

from .models import DatasetDefinition, ParameterType, Technique
from .units import unit_symbol


def _count(model):
    rows = model.objects.filter(technique_id=OuterRef("pk")).order_by().values("technique_id")
    return Coalesce(Subquery(rows.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0))


def technique_list(request):
    techniques = Technique.objects.annotate(
        parameter_count=_count(ParameterType), definition_count=_count(DatasetDefinition)
    )
    return render(request, "techniques/technique_list.html", {"techniques": techniques})


def technique_detail(request, code: str):
    technique = get_object_or_404(Technique, code=code)
    parameters = list(technique.parameter_types.all())
    for parameter in parameters:
        parameter.symbol = unit_symbol(parameter.unit)
    return render(
        request,
        "techniques/technique_detail.html",
        {"technique": technique, "parameters": parameters, "definitions": technique.definitions.all()},
    )
