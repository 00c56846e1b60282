"""503 Service Unavailable with Retry-After, not a 500, while the database cannot be reached.

A PostgreSQL restart or fail-over surfaces as django.db.OperationalError or InterfaceError (psycopg's
connection failures). The request changed nothing then, and clients retry a 503
(catalogue/ingestion/client.py). The answer is built without the database: no template, no session.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
DETAIL = "The catalogue's database is unavailable for a moment; try again shortly."

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unavailable for a moment</title></head>
<body><h1>Unavailable for a moment</h1><p>{DETAIL}</p></body></html>
"""


def unavailable_response(request) -> HttpResponse:
    """JSON for the API, a short page for the portal."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DETAIL}, status=503)
    else:
        response = HttpResponse(PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answers 503 when a view (or its template) meets an unreachable database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.warning("Database unavailable: %s %s answered 503: %s", request.method, request.path, exception)
        return unavailable_response(request)
