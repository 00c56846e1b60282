"""The API's JSON parser: a body size limit per route, and bodies Python's json reads but the catalogue
cannot hold refused as a 400 or 413, never a 500."""

import json
import math

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def body_limit_text(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit % 2**20 == 0 else f"{limit} bytes"


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: an infinity PostgreSQL's jsonb and our JSON answers refuse
        raise ValueError(f"the number {text[:30]} is out of range")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


class JSONParser(BaseParser):
    """Not a subclass of DRF's JSONParser on purpose: DRF reads those through HttpRequest.body, which
    caps every body at DATA_UPLOAD_MAX_MEMORY_SIZE, while the ingestion route takes file lists of
    200,000 entries. The view may set `max_body_bytes`; otherwise Django's limit holds."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        limit = getattr(context.get("view"), "max_body_bytes", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = context.get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        too_large = RequestTooLarge(f"The request body is larger than the limit of {body_limit_text(limit)}.")
        if limit is not None and length and length.isdigit() and int(length) > limit:
            raise too_large
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise too_large
        try:
            text = raw.decode(context.get("encoding") or settings.DEFAULT_CHARSET)
            return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # [[[[...]]]] 5,000 deep: Python's json recurses once per level
            raise ParseError("JSON parse error - nested too deeply") from None
