"""Sign-in with OpenID Connect (mozilla-django-oidc): people and their roles come from the provider.

On when OIDC_RP_CLIENT_ID is set (config/settings.py); off, only local accounts sign in. Local
accounts stay when it is on, for service accounts and development.

- ProviderBackend finds a person by username (the ``preferred_username`` claim, else ``sub``) and
  creates or updates them from the claims: names, e-mail, ORCID, and roles from the groups claim.
- BearerTokenAuthentication lets the API take the provider's access tokens.
- provider_logout_url makes signing out end the provider's session too.
"""

import logging
import re
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.shortcuts import resolve_url
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.contrib.drf import OIDCAuthentication, get_oidc_backend
from mozilla_django_oidc.views import OIDCAuthenticationRequestView
from rest_framework import exceptions

from catalogue.models import Instrument, UserProfile
from catalogue.people.services import audit_record, instrument_scientist_add, instrument_scientist_remove

logger = logging.getLogger(__name__)

ORCID = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]")
USER_FIELD_CLAIMS = {"first_name": "given_name", "last_name": "family_name", "email": "email"}


def enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def username_from_claims(claims: dict) -> str:
    return claims.get("preferred_username") or claims.get("sub") or ""


@transaction.atomic
def user_update_from_claims(*, user, claims: dict):
    """Save a new (unsaved) or existing user as the provider describes them; return the user.

    A claim the provider leaves out leaves its field alone. When the groups claim is present it is
    the source of truth for the roles configured to come from it: admin (OIDC_ADMIN_GROUPS),
    staff (OIDC_STAFF_GROUPS) and instrument scientist (groups named
    OIDC_SCIENTIST_GROUP_PREFIX + instrument name). Role changes go to the audit log.
    """
    user.username = username_from_claims(claims)
    for field, claim in USER_FIELD_CLAIMS.items():
        if claim in claims:
            setattr(user, field, claims[claim] or "")
    if user.pk is None:
        user.set_unusable_password()
    groups = claims.get(settings.OIDC_GROUPS_CLAIM)
    if groups is None:  # the provider does not say: roles stay as they are
        user.save()
    else:
        # Keycloak can send full group paths ("/admins").
        groups = {group.lstrip("/") for group in groups}
        _update_flags(user, groups)
        _update_scientist_roles(user, groups)
    orcid = str(claims.get("orcid") or "").rstrip("/").rsplit("/", 1)[-1]  # also "https://orcid.org/<id>"
    if ORCID.fullmatch(orcid):
        UserProfile.objects.update_or_create(user=user, defaults={"orcid": orcid})
    elif orcid:
        logger.warning("Ignored the ORCID claim %r of %s: not an ORCID iD", orcid, user.username)
    return user


def _update_flags(user, groups: set[str]) -> None:
    """Set is_superuser and is_staff from the groups, save the user and audit a change."""
    admin_groups, staff_groups = set(settings.OIDC_ADMIN_GROUPS), set(settings.OIDC_STAFF_GROUPS)
    before = {"is_superuser": user.is_superuser, "is_staff": user.is_staff}
    if admin_groups:
        user.is_superuser = bool(groups & admin_groups)
    if admin_groups or staff_groups:
        user.is_staff = user.is_superuser or bool(groups & (admin_groups | staff_groups))
    user.save()
    after = {"is_superuser": user.is_superuser, "is_staff": user.is_staff}
    if after != before:
        audit_record(
            actor=None,
            action="user.roles.change",
            target=user,
            summary=f"{user} is now {_describe_flags(after)} (groups from the identity provider)",
            details={"before": before, "after": after},
        )


def _describe_flags(flags: dict) -> str:
    if flags["is_superuser"]:
        return "a facility admin"
    return "staff" if flags["is_staff"] else "neither staff nor admin"


def _update_scientist_roles(user, groups: set[str]) -> None:
    prefix = settings.OIDC_SCIENTIST_GROUP_PREFIX
    if not prefix:
        return
    wanted = {group.removeprefix(prefix) for group in groups if group.startswith(prefix)}
    current = {role.instrument.name: role for role in user.instrument_roles.select_related("instrument")}
    for instrument in Instrument.objects.filter(name__in=wanted - current.keys()):
        instrument_scientist_add(instrument=instrument, user=user, actor=None)
    for name in current.keys() - wanted:
        instrument_scientist_remove(scientist=current[name], actor=None)


class ProviderBackend(OIDCAuthenticationBackend):
    """Authentication backend of the sign-in through the provider (and of its bearer tokens)."""

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=username_from_claims(claims))

    def verify_claims(self, claims):
        return bool(username_from_claims(claims))

    def create_user(self, claims):
        return user_update_from_claims(user=self.UserModel(), claims=claims)

    def update_user(self, user, claims):
        return user_update_from_claims(user=user, claims=claims)


class ProviderSignInView(OIDCAuthenticationRequestView):
    """/oidc/authenticate/: sends the browser to the provider; not found while OIDC is off."""

    def __init__(self, **kwargs):
        if not enabled():
            raise Http404("Sign-in with OpenID Connect is not configured.")
        super().__init__(**kwargs)


def provider_logout_url(request) -> str:
    """Where signing out leads (OIDC_OP_LOGOUT_URL_METHOD); called before the local sign-out.

    A session signed in through the provider holds its id token (OIDC_STORE_ID_TOKEN): it goes to
    the provider's end-session endpoint, which ends the provider's session and comes back here.
    """
    home = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not (id_token and settings.OIDC_OP_LOGOUT_ENDPOINT):
        return home
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(home),
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"


def sign_in_context(request) -> dict:
    """Template context processor: the provider's name for the "Sign in with …" button, or ""."""
    return {"oidc_provider_name": settings.OIDC_PROVIDER_NAME if enabled() else ""}


class BearerTokenAuthentication(OIDCAuthentication):
    """API: `Authorization: Bearer <access token>` from the provider, checked at its userinfo endpoint.

    Always listed in REST_FRAMEWORK (API views read their classes once, at import); it does
    nothing while OIDC is off.
    """

    def __init__(self):
        self.backend = get_oidc_backend() if enabled() else None

    def authenticate(self, request):
        if self.backend is None:
            return None
        result = super().authenticate(request)
        if result is not None and not result[0].is_active:
            raise exceptions.AuthenticationFailed("This account is disabled.")
        return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer scheme in the OpenAPI schema."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token of the facility's OpenID Connect provider, when the portal uses one.",
        }
