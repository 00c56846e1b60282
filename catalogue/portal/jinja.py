"""The Jinja2 environment of the templates in templates/jinja2: the investigation page's content (its
header, tabs, filter form, dataset table and pagination), the partials Django's pages render through
tags (the dataset table, its storage cell, pagination, the download button) and the logbook's
timelines. CPU per investigation page at the small scale: the dataset table's 50 rows took 13 ms in
Django's template language, 5.2 in Jinja2 and 3.3 with the request's formats read once
(catalogue.portal.formats); the page's templates took 10.5 ms with Django's around that table and 6
in Jinja2 but for base.html (0.6 ms), which every page shares. The filters are the portal's own and
Django's, so both engines print values alike."""

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat, linebreaksbr, pluralize, truncatechars
from django.template.defaulttags import querystring as django_querystring
from django.urls import reverse
from jinja2 import Environment

from catalogue.templatetags import downloads, portal

from .formats import RequestFormats


def querystring(query, **changes) -> str:
    """{{ querystring(request.GET, page=2) }}: Django's {% querystring %} given its query (a key
    changed to None is removed): '?sample=4&page=2', or '' for an empty query left unchanged."""
    return django_querystring(None, query, **changes)


def environment(**options) -> Environment:
    env = Environment(**options)
    env.filters.update(
        breakable=portal.breakable,
        bulk_text=downloads.bulk_text,
        clock=portal.clock,
        day=portal.day,
        doi_url=portal.doi_url,
        is_embargoed=portal.is_embargoed,
        param_value=portal.param_value,
        route=portal.route,
        unit_symbol=portal.unit_symbol,
        intcomma=intcomma,
        filesizeformat=filesizeformat,
        linebreaksbr=linebreaksbr,
        pluralize=pluralize,
        truncatechars=truncatechars,
        url=reverse,
    )
    env.globals.update(formats=RequestFormats, querystring=querystring)
    return env
