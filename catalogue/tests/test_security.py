"""Secrets, throttling and headers (catalogue/security.py, config/settings.py's security section)."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from .conftest import key_client

BASE_DIR = Path(settings.BASE_DIR)
PASSWORD = "the-right-password-42"

# --- The secret key --------------------------------------------------------------------------


def manage(tmp_path, *args, **environment) -> subprocess.CompletedProcess:
    """`manage.py *args` in a fresh process, with the test run's environment less everything that
    configures Django, plus `environment`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "OIDC_"))}
    env.update({"DATA_ROOTS": str(tmp_path), **environment})
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=120
    )


def production_environment(tmp_path) -> dict:
    """README, "Production deployment", step 2 (the database and broker: the test run's own)."""
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}"),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
        "DJANGO_ALLOWED_HOSTS": "data.facility.example",
        "DJANGO_HTTPS": "1",
        "STATICFILES_STORAGE": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    }


def test_check_deploy_passes_with_the_readme_production_environment(tmp_path):
    result = manage(tmp_path, "check", "--deploy", **production_environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_with_the_development_key(tmp_path):
    environment = production_environment(tmp_path)
    del environment["DJANGO_SECRET_KEY"]
    result = manage(tmp_path, "check", "--deploy", **environment)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    "key, problem",
    [
        (None, "SECRET_KEY is the repository's public development key"),
        ("9fQ2x-Lk3mZ-7Rt0w-Vb4Yp-Hs8Ne-Jc6Ud-Ga1K", "SECRET_KEY is shorter than 50 characters"),
    ],
)
def test_check_deploy_fails_on_the_development_key_or_a_short_one(tmp_path, key, problem):
    """Without DJANGO_HTTPS, which would refuse the development key earlier."""
    result = manage(tmp_path, "check", "--deploy", **({"DJANGO_SECRET_KEY": key} if key else {}))
    assert result.returncode != 0
    assert f"(catalogue.E001) {problem}" in result.stderr


def test_development_keeps_the_development_key(tmp_path):
    """`make run` (DJANGO_DEBUG=1) and the test suite run with the key in the repository."""
    result = manage(tmp_path, "check", DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY or "DJANGO_SECRET_KEY" in os.environ


# --- Headers -----------------------------------------------------------------------------------


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: sources for name, *sources in (part.split() for part in policy.split(";") if part.strip())}


@pytest.mark.django_db
def test_portal_pages_have_a_content_security_policy(client, released_investigation):
    for url in ["/", "/investigations/?section=open", released_investigation.get_absolute_url(), "/accounts/login/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = directives(response)
        assert policy["script-src"] == ["'self'"], url  # no inline script, no eval
        assert policy["style-src"] == ["'self'"], url
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], url
        assert policy["frame-ancestors"] == ["'none'"], url
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_api_docs_run_no_inline_script(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # Swagger UI's page has a <style>
    page = response.content.decode()
    assert re.findall(r"<script\b(?![^>]*\bsrc=)", page) == []
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


INLINE_CODE = {
    "an inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "code htmx would evaluate": re.compile(r"\shx-on[\w:-]*\s*=|\shx-vars\s*=|hx-vals=[\"']js:|hx-trigger=\"[^\"]*\["),
}


def test_templates_have_no_inline_code():
    """The policy would block it: scripts live in static/js, styles in static/css."""
    templates = [*BASE_DIR.glob("templates/**/*.html"), *BASE_DIR.glob("*/templates/**/*.html")]
    assert len(templates) > 10
    found = [
        f"{path.relative_to(BASE_DIR)}: {what}: {match.group(0)!r}"
        for path in templates
        for what, pattern in INLINE_CODE.items()
        for match in pattern.finditer(path.read_text())
    ]
    assert found == []


@pytest.mark.django_db
def test_signed_in_pages_are_private_and_not_stored(client, participant, investigation):
    anonymous = client.get("/investigations/?section=open")
    assert "Cache-Control" not in anonymous
    client.force_login(participant)
    for url in ["/", investigation.get_absolute_url(), "/api/v1/investigations/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}, url


@pytest.mark.django_db
def test_api_answers_to_a_key_are_private_and_not_stored(api_key):
    response = key_client(api_key[1]).get("/api/v1/instruments/")
    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


# --- Throttling --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clear_cache():
    """The API-key failure counts live in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


def test_an_unreachable_cache_does_not_stop_the_api_keys(api_key):
    """The throttle's counts live in the cache (Redis in production): while it is down, keys are
    checked unthrottled, never a 500 for every instrument."""
    dead_redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{closed_port()}/1",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    with override_settings(CACHES={"default": dead_redis}):
        assert key_client(api_key[1]).get("/api/v1/datasets/").status_code == 200
        assert key_client("0000.wrong").get("/api/v1/datasets/").status_code == 401


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dana(db):
    return get_user_model().objects.create_user("dana", password=PASSWORD, is_staff=True)


def sign_in(client, url, password, address="127.0.0.1"):
    return client.post(url, {"username": "dana", "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_sign_in_out(client, dana, url):
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(1, limit):
        response = sign_in(client, url, f"wrong-{attempt}")
        assert response.status_code == 200 and "_auth_user_id" not in client.session, attempt
    locked = sign_in(client, url, f"wrong-{limit}")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Even the right password, until the cool-off has passed.
    assert sign_in(client, url, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    # The lockout holds for this username at this address only.
    assert sign_in(client, url, PASSWORD, address="10.0.0.2").status_code == 302
    client.logout()
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert sign_in(client, url, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(dana.pk)


def test_the_lockout_page_says_for_how_long(client, dana):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        response = sign_in(client, "/accounts/login/", f"wrong-{attempt}")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert response.status_code == 429
    assert f"signing in is paused for {minutes} minutes" in " ".join(response.content.decode().split())


def test_sign_in_without_a_request_is_not_counted(client, dana):
    """The test client's login() (and a shell's authenticate()) pass no request: nothing to lock."""
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert not client.login(username="dana", password="wrong")
    assert client.login(username="dana", password=PASSWORD)
    assert not AccessAttempt.objects.exists()


def test_wrong_api_keys_are_throttled_by_address(settings, api_key):
    settings.API_KEY_LOCKOUT_SECONDS = 2
    limit = settings.API_KEY_FAILURE_LIMIT
    bad = key_client("not-a-key")
    for attempt in range(limit):
        assert bad.get("/api/v1/instruments/").status_code == 401, attempt
    refused = bad.get("/api/v1/instruments/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 2
    # Refused before the key is looked at: a good key from this address too...
    good = key_client(api_key[1])
    assert good.get("/api/v1/instruments/").status_code == 429
    # ...but not from another address.
    assert good.get("/api/v1/instruments/", REMOTE_ADDR="10.0.0.9").status_code == 200
    time.sleep(2.1)
    assert good.get("/api/v1/instruments/").status_code == 200


def test_good_api_keys_are_never_counted(settings, api_key):
    good = key_client(api_key[1])
    for _ in range(settings.API_KEY_FAILURE_LIMIT + 5):
        assert good.get("/api/v1/instruments/").status_code == 200
    assert key_client("not-a-key").get("/api/v1/instruments/").status_code == 401


# --- In a browser: the policy breaks nothing ----------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_api_docs_render_under_the_policy(browser_page, live_server):
    page = browser_page
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.locator(".opblock-summary-path", has_text="/api/v1/datasets/").first.wait_for()
    assert [text for text in messages if "Content Security Policy" in text] == []
