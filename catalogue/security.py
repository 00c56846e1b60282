"""Security plumbing: the secret key's check, sign-in lockout, API-key failure throttling, caching.

- check_secret_key: `manage.py check --deploy` fails while SECRET_KEY is the repository's
  development key or a short one (config/settings.py also refuses to load it in production).
- SignInLockoutBackend: django-axes, first of AUTHENTICATION_BACKENDS: the portal's and the admin's
  sign-in forms lock a username at an address after AXES_FAILURE_LIMIT failures, for
  AXES_COOLOFF_TIME (the answer: templates/registration/lockout.html, 429).
- api_key_wait / api_key_failed: failed `Authorization: Api-Key` attempts counted per client address
  in the cache; past API_KEY_FAILURE_LIMIT the address gets 429 + Retry-After for
  API_KEY_LOCKOUT_SECONDS, before any key is looked at (catalogue/api/authentication.py).
- PrivateCacheMiddleware: `Cache-Control: private, no-store` on every answer to a signed-in
  request, so that no browser or proxy cache keeps embargoed pages.
"""

import functools
import logging
import math
import time

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from django.core.checks import Error, Tags, register
from django.utils.cache import patch_cache_control

logger = logging.getLogger(__name__)

SECRET_KEY_MIN_LENGTH = 50


def secret_key_problem(key: str) -> str:
    """Why this key must not sign production's sessions and tokens, or ""."""
    if key == settings.DEVELOPMENT_SECRET_KEY:
        return "is the repository's public development key"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is shorter than {SECRET_KEY_MIN_LENGTH} characters"
    if len(set(key)) < 5:
        return "has fewer than 5 different characters"
    return ""


@register(Tags.security, deploy=True)
def check_secret_key(app_configs, **kwargs):
    problem = secret_key_problem(settings.SECRET_KEY)
    if not problem:
        return []
    return [
        Error(
            f"SECRET_KEY {problem}: sessions, password resets and calendar links signed with it can be forged.",
            hint="Set DJANGO_SECRET_KEY to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`.",
            id="catalogue.E001",
        )
    ]


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind DJANGO_PROXY_COUNT trusted proxies, the address
    the outermost of them saw (X-Forwarded-For, counted from the right: the client can forge the
    left of it)."""
    count = settings.DJANGO_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if count and forwarded:
        return forwarded[-min(count, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


class SignInLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check (it authenticates no one: the next backends do).

    authenticate() without a request (the test client's login(), a shell) is no sign-in from the
    web: there is nothing to count it against, so it passes (axes itself would raise). Nor is the
    provider's callback (OpenID Connect: no username), or one address's failed callbacks would
    lock everyone behind it out; the provider throttles its own sign-in.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def _api_key_cache_keys(ip: str) -> tuple[str, str]:
    return f"api-key-failures:{ip}", f"api-key-lockout:{ip}"


def _cache_unavailable_lets_through(function):
    """The throttle is a guard, not a gate: while its cache (Redis) is unreachable, keys are checked
    as usual, unthrottled, rather than every instrument's request failing with a 500."""

    @functools.wraps(function)
    def guarded(ip: str):
        try:
            return function(ip)
        except Exception as exc:  # any cache backend's connection error
            logger.warning("API-key throttle skipped, its cache is unavailable: %r", exc)
            return 0

    return guarded


@_cache_unavailable_lets_through
def api_key_wait(ip: str) -> int:
    """Seconds this address must wait before it may try a key again; 0: it may."""
    _, lockout_key = _api_key_cache_keys(ip)
    until = cache.get(lockout_key)
    return max(1, math.ceil(until - time.time())) if until else 0


@_cache_unavailable_lets_through
def api_key_failed(ip: str) -> None:
    """Count a failed key from this address; at the limit, lock the address out."""
    failures_key, lockout_key = _api_key_cache_keys(ip)
    seconds = settings.API_KEY_LOCKOUT_SECONDS
    cache.add(failures_key, 0, timeout=seconds)  # the window opens at the first failure
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # the window closed between add() and incr()
        cache.set(failures_key, failures := 1, timeout=seconds)
    if failures >= settings.API_KEY_FAILURE_LIMIT:
        cache.set(lockout_key, time.time() + seconds, timeout=seconds)
        cache.delete(failures_key)


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on answers to a signed-in session or to a request with
    credentials (API key, bearer token); anonymous answers are left alone. Static files are served
    by WhiteNoise before this middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if "HTTP_AUTHORIZATION" in request.META or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
        return response
