from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from catalogue.middleware import DATABASE_UNAVAILABLE, DETAIL, RETRY_AFTER_SECONDS


def exception_handler(exc, context):
    """DRF's handler, with validation errors under one "errors" key, by field."""
    if isinstance(exc, DATABASE_UNAVAILABLE):  # a restart of PostgreSQL: clients retry a 503
        return Response({"detail": DETAIL}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 400 and isinstance(response.data, dict):
        response.data = {"detail": "The request is invalid; see errors by field.", "errors": response.data}
    return response
