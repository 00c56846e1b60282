"""The PaNOSC endpoints: JSON lists, single objects and counts, open to everybody (open data only).

A refused filter answers 400 with Loopback's error shape plus the field and the reason:
{"error": {"statusCode": 400, "name": "BadRequestError", "message": ..., "field": ..., "reason": ...}}.
"""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .query import MAX_FILTER_CHARS, FilterError, load_json, parse_filter, parse_query, parse_where
from .resources import DATASET, DOCUMENT, INSTRUMENT, load, render

RESOURCES = {"datasets": DATASET, "documents": DOCUMENT, "instruments": INSTRUMENT}
HEADERS = {"Access-Control-Allow-Origin": "*"}  # a federated search calls from other origins


def _error(status: int, name: str, message: str, **extra) -> JsonResponse:
    body = {"error": {"statusCode": status, "name": name, "message": message, **extra}}
    return JsonResponse(body, status=status, headers=HEADERS)


def _answer(data) -> JsonResponse:
    return JsonResponse(data, safe=False, headers=HEADERS)


def _guarded(view):
    def wrapper(request, *args, **kwargs):
        if len(request.META.get("QUERY_STRING", "")) > 3 * MAX_FILTER_CHARS:
            return _error(400, "BadRequestError", "query string: too long", field="query string", reason="too long")
        try:
            return view(request, *args, **kwargs)
        except FilterError as exc:
            return _error(400, "BadRequestError", str(exc), field=exc.field, reason=exc.reason)

    wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
    return require_GET(wrapper)


@_guarded
def listing(request, resource: str):
    """GET /panosc/<resource>?filter=...&query=...: a page (at most 100), best scores first."""
    spec = RESOURCES[resource]
    parsed = parse_filter(load_json(request.GET.get("filter"), "filter"), spec)
    terms = parse_query(request.GET.get("query"))
    qs = spec.score(spec.base().filter(spec.filter_q(parsed.where, parsed.include)), terms)
    # One word scores every row it keeps alike (1.0): the order is then the resource's own, which an
    # index gives, so the database stops at the page's last row instead of scoring every match.
    order = ("-_score", *spec.order) if len(terms) > 1 else spec.order
    rows = list(qs.order_by(*order)[parsed.skip : parsed.skip + parsed.limit])
    load(spec, rows, parsed.include)
    return _answer([render(spec, row) | {"score": row._score} for row in rows])


@_guarded
def detail(request, resource: str, pid: str):
    """GET /panosc/<resource>/<pid>?filter=...: one object with its included relations."""
    spec = RESOURCES[resource]
    parsed = parse_filter(load_json(request.GET.get("filter"), "filter"), spec, pageable=False)
    key = spec.fields["pid"]
    value = key.to_db(pid) if key.to_db else pid
    row = None
    if value is not None:
        row = spec.base().filter(spec.filter_q(None, parsed.include), **{key.lookup: value}).first()
    if row is None:
        return _error(404, "NotFoundError", f"No such {spec.name.lower()}.")
    load(spec, [row], parsed.include)
    return _answer(render(spec, row))


@_guarded
def count(request, resource: str):
    """GET /panosc/<resource>/count?where=...: {"count": n} (a filter's where is also taken)."""
    spec = RESOURCES[resource]
    budget = [200]
    where = None
    raw = load_json(request.GET.get("where"), "where")
    if raw:
        where = parse_where(raw, spec, "where", budget)
    elif request.GET.get("filter"):
        where = parse_filter(load_json(request.GET["filter"], "filter"), spec, pageable=False).where
    terms = parse_query(request.GET.get("query"))
    return _answer({"count": spec.score(spec.base().filter(spec.where_q(where)), terms).count()})
