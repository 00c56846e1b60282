from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from catalogue import security
from catalogue.people.services import api_key_authenticate

KEYWORD = "Api-Key"


class InstrumentKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`: the request acts for the key's instrument.

    An address that sent too many bad keys is answered 429 with Retry-After before its key is even
    looked at (catalogue.security); good keys do not count.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0] != KEYWORD:
            return None
        client = security.client_ip(request._request)
        if wait := security.api_key_wait(client):
            raise exceptions.Throttled(wait=wait, detail="Too many failed API keys from this address.")
        if len(header) != 2 or "\x00" in header[1]:  # PostgreSQL refuses NUL: a malformed key
            security.api_key_failed(client)
            raise exceptions.AuthenticationFailed("Give the key as 'Authorization: Api-Key <key>'.")
        key = api_key_authenticate(secret=header[1])
        if key is None:
            security.api_key_failed(client)
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked API key.")
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return KEYWORD


class InstrumentKeyScheme(OpenApiAuthenticationExtension):
    """Documents the key scheme in the OpenAPI schema."""

    target_class = InstrumentKeyAuthentication
    name = "instrumentKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An instrument's key, created in the admin: `Api-Key <key>`.",
        }
