from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, with validation errors under one "errors" key, by field."""
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 400 and isinstance(response.data, dict):
        response.data = {"detail": "The request is invalid; see errors by field.", "errors": response.data}
    return response
