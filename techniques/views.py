"""The vocabulary, browsable and exportable: techniques, their parameters and dataset definitions. Public."""

import csv
import json

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from .api import PARAMETER_FIELDS, ParameterTypeSerializer
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


def technique_export(request, code: str, fmt: str):
    """The technique's parameters as a CSV or JSON download, with the API's fields."""
    technique = get_object_or_404(Technique, code=code)
    rows = ParameterTypeSerializer(technique.parameter_types.select_related("technique"), many=True).data
    filename = f"{technique.code}-parameters.{fmt}"
    if fmt == "json":
        response = HttpResponse(json.dumps(rows, ensure_ascii=False, indent=2), content_type="application/json")
    elif fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.DictWriter(response, fieldnames=PARAMETER_FIELDS)
        writer.writeheader()
        writer.writerows({**row, "permitted_values": "|".join(map(str, row["permitted_values"]))} for row in rows)
    else:
        raise Http404("Unknown format.")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
