from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from catalogue.api.parsers import RequestTooLarge, body_limit_text
from catalogue.middleware import DATABASE_UNAVAILABLE, DETAIL, RETRY_AFTER_SECONDS


def exception_handler(exc, context):
    """DRF's handler, with validation errors under one "errors" key, by field."""
    if isinstance(exc, DATABASE_UNAVAILABLE):  # a restart of PostgreSQL: clients retry a 503
        return Response({"detail": DETAIL}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, RequestDataTooBig):  # Django's limit, on a form body: JSON, not its HTML page
        exc = RequestTooLarge(
            f"The request body is larger than the limit of {body_limit_text(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}."
        )
    if isinstance(exc, ParseError):
        return Response({"detail": "The request body cannot be read.", "errors": {"body": str(exc.detail)}}, 400)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 400 and isinstance(response.data, dict):
        errors = writable(response.data)
        response.data = {"detail": "The request is invalid; see errors by field.", "errors": errors}
    return response


def writable(value):
    """The errors with lone surrogates escaped: they echo what was sent ("\\ud800" in JSON), which
    UTF-8, and so the answer, cannot hold."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode() if not value.isascii() else value
    if isinstance(value, dict):
        return {writable(key): writable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [writable(item) for item in value]
    return value
