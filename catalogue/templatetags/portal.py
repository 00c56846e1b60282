"""Template helpers of the portal pages, and the tags through which Django's pages render the portal's
Jinja2 templates (templates/jinja2: the investigation page's content, the dataset table, its storage
cell, pagination). The filters serve both engines (catalogue.portal.jinja)."""

import html
import re

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe

from catalogue import access
from catalogue.routes import pk_url
from techniques import units

register = template.Library()


@register.simple_tag
def facility_name() -> str:
    return settings.FACILITY_NAME


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str) -> SafeString:
    """{% jinja "catalogue/_investigation_content.html" %}: a Jinja2 template rendered with this page's
    context (its request: CSRF tokens), for the content of a page that Django's base layout frames."""
    content = get_template(template_name, using="jinja2")
    return mark_safe(content.render(context.flatten(), request=context.get("request")))  # Jinja2 escaped it


@register.simple_tag(takes_context=True)
def pagination(context, page_obj) -> SafeString:
    """{% pagination page_obj %}: the page links under a list, keeping the request's query
    (templates/jinja2/catalogue/_pagination.html)."""
    links = get_template("catalogue/_pagination.html", using="jinja2")
    return mark_safe(links.render({"page_obj": page_obj}, request=context.get("request")))


@register.simple_tag(takes_context=True)
def dataset_table(context, datasets, show_sample: bool = True, empty_message: str = "No datasets.") -> str:
    """{% dataset_table page_obj show_sample=True empty_message="..." %}: the portal's dataset table,
    rendered by Jinja2 (templates/jinja2/catalogue/_dataset_table.html) with the page's technique
    columns (catalogue.portal.pages.table_columns) and user."""
    table = get_template("catalogue/_dataset_table.html", using="jinja2")
    values = {"columns": context.get("columns", []), "user": context.get("user")}
    return mark_safe(  # Jinja2 has escaped every value
        table.render(
            {**values, "datasets": datasets, "show_sample": show_sample, "empty_message": empty_message},
            request=context.get("request"),  # the Restore buttons' CSRF token
        )
    )


@register.simple_tag(takes_context=True)
def storage_state(context, dataset, job=None) -> str:
    """{% storage_state dataset job %}: a dataset's storage badge and action, the same as in the
    dataset table's rows (templates/jinja2/catalogue/_storage_state.html)."""
    cell = get_template("catalogue/_storage_state.html", using="jinja2")
    values = {"dataset": dataset, "job": job, "user": context.get("user")}
    return mark_safe(cell.render(values, request=context.get("request")))


# The places after a `_`, `-` or `/` that another character follows: an insertion with no group to
# expand, and html.escape rather than Django's lazy-aware escape (the same text): 3 µs a name, not 11.
_BREAK_AFTER = re.compile(r"(?<=[_\-/])(?=.)")


@register.filter
def breakable(name) -> SafeString:
    """A name that may wrap after its `_`, `-` and `/` (an HTML <wbr> after each), never inside a
    word: 'mesh-AFAMIN_1_1719739' wraps as 'mesh-|AFAMIN_|1_|1719739'. Escaped; both engines."""
    return mark_safe(_BREAK_AFTER.sub("<wbr>", html.escape("" if name is None else str(name))))


@register.filter
def unit_symbol(expression: str) -> str:
    """'angstrom' -> 'Å'; an unknown unit is shown as written."""
    try:
        return units.unit_symbol(expression)
    except units.UnitError:
        return expression


@register.filter
def param_value(value) -> str:
    """Floats with up to 6 significant digits; booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


@register.filter
def route(pk: int, name: str) -> str:
    """{{ dataset.pk|route:"dataset-row" }}: the URL of a route taking one id, without reverse()'s cost."""
    return pk_url(name, pk)


# A dataset table shows two of each per row; Django's |date builds a formatter per call (60 µs).
@register.filter
def clock(value) -> str:
    """'14:05' in the current time zone, as |date:"H:i" writes it."""
    return f"{timezone.localtime(value):%H:%M}"


@register.filter
def day(value) -> str:
    """'3 Nov 2026' in the current time zone, as |date:"j M Y" writes it (month names translated)."""
    local = timezone.localtime(value)
    return f"{local.day} {MONTHS_3[local.month].title()} {local.year}"


@register.filter
def group_label(prefix: str) -> str:
    """'MXAutoprocIntegration' -> 'MX Autoproc Integration'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", prefix)


@register.filter
def doi_url(doi: str) -> str:
    return f"https://doi.org/{doi}"


@register.filter
def is_embargoed(investigation) -> bool:
    return investigation.release_date > timezone.now()


@register.filter
def add_class(field, css_class: str):
    """Render a form field's widget with a CSS class: {{ form.sample|add_class:"form-select" }}."""
    return field.as_widget(attrs={"class": css_class})


@register.simple_tag(takes_context=True)
def is_beamline_staff(context) -> bool:
    """Whether the staff views (embargoed data, beamline pages) are for the signed-in person."""
    return access.is_beamline_staff(access.actor_for(context["request"]))
