"""The Jinja2 environment of the templates in templates/jinja2: the dataset table and its storage cell, whose 50
rows Jinja2 renders in 5 ms where Django's template language took 13 (docs/benchmarks.md). The
filters are the portal's own, so both engines print values alike."""

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat, pluralize
from django.urls import reverse
from jinja2 import Environment

from catalogue.templatetags import portal


def environment(**options) -> Environment:
    env = Environment(**options)
    env.filters.update(
        breakable=portal.breakable,
        clock=portal.clock,
        day=portal.day,
        param_value=portal.param_value,
        route=portal.route,
        unit_symbol=portal.unit_symbol,
        intcomma=intcomma,
        filesizeformat=filesizeformat,
        pluralize=pluralize,
        url=reverse,
    )
    return env
