"""Sign-in with OpenID Connect, against a real provider on loopback (scripts/oidc-provider.mjs).

The claims -> user mapping is tested on its own first; then the portal signs people in through
the provider's own login page (with requests, and in a browser), and the API takes the
provider's access tokens.
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from playwright.sync_api import expect

from catalogue.models import AuditEntry, InstrumentScientist, UserProfile
from catalogue.people.identity import provider_logout_url, user_update_from_claims

CLIENT_ID, CLIENT_SECRET = "portal", "portal-secret"
PROVIDER_START_TIMEOUT = 20  # seconds
ORCID = "0000-0002-1825-0097"
ACCOUNTS = {
    "ada": {
        "password": "ada-password",
        "claims": {
            "preferred_username": "ada",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@facility.example",
            "orcid": f"https://orcid.org/{ORCID}",
            "groups": ["/users", "/instrument-scientist:ID30"],
        },
    },
    "root": {
        "password": "root-password",
        "claims": {"preferred_username": "root", "email": "root@facility.example", "groups": ["facility-admins"]},
    },
}


def claims(**extra) -> dict:
    return {"preferred_username": "ada", "given_name": "Ada", "family_name": "Lovelace", **extra}


@pytest.fixture
def role_groups(settings):
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_ADMIN_GROUPS = ["facility-admins"]
    settings.OIDC_STAFF_GROUPS = ["staff"]
    settings.OIDC_SCIENTIST_GROUP_PREFIX = "instrument-scientist:"


# --- Claims -> user ---------------------------------------------------------------------------


def test_a_new_user_comes_from_the_claims(role_groups, instrument):
    groups = ["/users", "instrument-scientist:ID30", "instrument-scientist:NO-SUCH-BEAMLINE"]
    orcid = f"https://orcid.org/{ORCID}"
    user = user_update_from_claims(
        user=get_user_model()(), claims=claims(email="ada@facility.example", orcid=orcid, groups=groups)
    )

    user.refresh_from_db()
    assert (user.username, user.first_name, user.last_name) == ("ada", "Ada", "Lovelace")
    assert user.email == "ada@facility.example"
    assert not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser
    assert UserProfile.objects.get(user=user).orcid == ORCID
    assert list(InstrumentScientist.objects.filter(user=user).values_list("instrument__name", flat=True)) == ["ID30"]
    assert list(AuditEntry.objects.values_list("action", "actor")) == [("instrument_scientist.add", None)]


def test_the_groups_claim_is_the_source_of_truth_for_roles(role_groups, instrument, other_instrument):
    user = get_user_model().objects.create_user("ada", first_name="Old", email="old@example.org")
    InstrumentScientist.objects.create(user=user, instrument=other_instrument)

    user_update_from_claims(user=user, claims=claims(groups=["facility-admins", "instrument-scientist:ID30"]))

    user.refresh_from_db()
    assert (user.first_name, user.email) == ("Ada", "old@example.org")  # no e-mail claim: kept
    assert user.is_superuser and user.is_staff
    assert set(user.instrument_roles.values_list("instrument__name", flat=True)) == {"ID30"}
    assert sorted(AuditEntry.objects.values_list("action", flat=True)) == [
        "instrument_scientist.add",
        "instrument_scientist.remove",
        "user.roles.change",
    ]

    user_update_from_claims(user=user, claims=claims(groups=["staff"]))
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    assert not user.instrument_roles.exists()
    assert AuditEntry.objects.filter(action="user.roles.change").count() == 2


def test_without_a_groups_claim_roles_stay(role_groups, instrument):
    user = get_user_model().objects.create_user("ada", is_staff=True)
    InstrumentScientist.objects.create(user=user, instrument=instrument)

    user_update_from_claims(user=user, claims=claims(orcid="not-an-orcid"))

    user.refresh_from_db()
    assert user.is_staff
    assert user.instrument_roles.count() == 1
    assert not UserProfile.objects.filter(user=user).exists()
    assert not AuditEntry.objects.exists()


def test_unconfigured_role_mappings_leave_flags_alone(settings, db):
    settings.OIDC_ADMIN_GROUPS = settings.OIDC_STAFF_GROUPS = []
    user = get_user_model().objects.create_user("ada", is_staff=True, is_superuser=True)

    user_update_from_claims(user=user, claims=claims(groups=[]))

    user.refresh_from_db()
    assert user.is_staff and user.is_superuser


# --- Switched off and on ----------------------------------------------------------------------


def test_off_the_login_page_has_only_the_local_form(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page
    assert 'name="password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404


def test_on_the_login_page_offers_the_provider_and_keeps_the_local_form(client, settings):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_PROVIDER_NAME = "Facility account"
    page = client.get("/accounts/login/", {"next": "/investigations/"}).content.decode()
    assert "Sign in with Facility account" in page
    assert 'href="/oidc/authenticate/?next=/investigations/"' in page
    assert 'name="password"' in page


def test_signing_out_of_a_provider_session_ends_it_at_the_provider(settings, db):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://sso.example.org/logout"
    request = RequestFactory().post("/accounts/logout/")
    request.session = SessionStore()
    assert provider_logout_url(request) == "/"  # a local sign-in

    request.session["oidc_id_token"] = "the.id.token"
    url = urlsplit(provider_logout_url(request))
    assert url._replace(query="").geturl() == "https://sso.example.org/logout"
    assert parse_qs(url.query) == {
        "id_token_hint": ["the.id.token"],
        "post_logout_redirect_uri": ["http://testserver/"],
        "client_id": [CLIENT_ID],
    }


# --- A real provider ---------------------------------------------------------------------------


@dataclass
class Provider:
    issuer: str
    configuration: dict  # its discovery document


@pytest.fixture(scope="module")
def oidc_provider(live_server, tmp_path_factory):
    """scripts/oidc-provider.mjs on a free loopback port, with one client: the live server."""
    script = django_settings.BASE_DIR / "scripts" / "oidc-provider.mjs"
    node = shutil.which("node")
    if node is None or not (django_settings.BASE_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("needs node and the npm package oidc-provider (make assets)")
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{live_server.url}/oidc/callback/"],
        "post_logout_redirect_uris": [f"{live_server.url}/"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    log = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    env = {**os.environ, "OIDC_PROVIDER_CONFIG": json.dumps({"clients": [client], "accounts": ACCOUNTS})}
    with log.open("wb") as stderr:
        process = subprocess.Popen([node, str(script)], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], PROVIDER_START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the OpenID provider did not start:\n{log.read_text()}")
        issuer = json.loads(line)["issuer"]
        response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
        response.raise_for_status()
        yield Provider(issuer, response.json())
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def oidc(settings, role_groups, oidc_provider) -> Provider:
    """OIDC on, as config/settings.py switches it on from the environment."""
    configuration = oidc_provider.configuration
    settings.AUTHENTICATION_BACKENDS = [
        "catalogue.security.SignInLockoutBackend",
        "catalogue.people.identity.ProviderBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = configuration["authorization_endpoint"]
    settings.OIDC_OP_TOKEN_ENDPOINT = configuration["token_endpoint"]
    settings.OIDC_OP_USER_ENDPOINT = configuration["userinfo_endpoint"]
    settings.OIDC_OP_JWKS_ENDPOINT = configuration["jwks_uri"]
    settings.OIDC_OP_LOGOUT_ENDPOINT = configuration["end_session_endpoint"]
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_RP_SCOPES = "openid email profile"
    settings.OIDC_USE_PKCE = True
    settings.OIDC_STORE_ID_TOKEN = True
    return oidc_provider


def fill_login_form(
    session: requests.Session, page: requests.Response, username: str, password: str = ""
) -> requests.Response:
    """Submit the provider's own login form shown on `page`, following the redirects."""
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)[1]
    data = {"login": username, "password": password or ACCOUNTS[username]["password"]}
    return session.post(urljoin(page.url, action), data=data, timeout=10)


def test_settings_come_from_the_environment_and_the_discovery_document(oidc_provider):
    """config/settings.py, in a fresh process, with only OIDC_RP_CLIENT_ID, its secret and the issuer."""
    script = (
        "import django; django.setup(); from django.conf import settings as s; import json;"
        "print(json.dumps([s.AUTHENTICATION_BACKENDS, s.OIDC_OP_AUTHORIZATION_ENDPOINT, s.OIDC_OP_TOKEN_ENDPOINT,"
        " s.OIDC_OP_USER_ENDPOINT, s.OIDC_OP_JWKS_ENDPOINT, s.OIDC_OP_LOGOUT_ENDPOINT, s.OIDC_RP_SIGN_ALGO]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_OP_ISSUER": oidc_provider.issuer,
        "OIDC_OP_TOKEN_ENDPOINT": "https://elsewhere.example/token",
    }
    output = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True
    )
    assert output.returncode == 0, output.stderr
    configuration = oidc_provider.configuration
    assert json.loads(output.stdout) == [
        [
            "catalogue.security.SignInLockoutBackend",
            "catalogue.people.identity.ProviderBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        configuration["authorization_endpoint"],
        "https://elsewhere.example/token",  # an explicit endpoint wins
        configuration["userinfo_endpoint"],
        configuration["jwks_uri"],
        configuration["end_session_endpoint"],
        "RS256",
    ]


def test_sign_in_through_the_provider_creates_the_user_with_roles(oidc, live_server, instrument, investigation):
    session = requests.Session()
    page = session.get(f"{live_server.url}/oidc/authenticate/", params={"next": "/"}, timeout=10)
    assert page.url.startswith(oidc.issuer) and 'name="password"' in page.text

    wrong = fill_login_form(session, page, "ada", "not-the-password")
    assert "Invalid username or password" in wrong.text

    home = fill_login_form(session, wrong, "ada")

    assert home.url == f"{live_server.url}/"
    assert "My data" in home.text and "Ada Lovelace" in home.text
    user = get_user_model().objects.get(username="ada")
    assert (user.first_name, user.last_name, user.email) == ("Ada", "Lovelace", "ada@facility.example")
    assert user.profile.orcid == ORCID
    assert user.instrument_roles.get().instrument == instrument
    # An instrument scientist sees the embargoed investigation of their beamline.
    assert investigation.name in session.get(f"{live_server.url}/investigations/", timeout=10).text


def test_the_api_takes_the_providers_access_tokens(oidc, settings, live_server, investigation, other_investigation):
    settings.OIDC_STORE_ACCESS_TOKEN = True
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/oidc/authenticate/", timeout=10)
    fill_login_form(browser, page, "ada")
    token = SessionStore(session_key=browser.cookies["sessionid"])["oidc_access_token"]
    url = f"{live_server.url}/api/v1/investigations/"

    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["results"]] == [investigation.pk]
    refused = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    assert refused.status_code == 401
    assert requests.get(url, timeout=10).json()["results"] == []


def test_an_admin_group_makes_a_facility_admin(oidc, live_server):
    session = requests.Session()
    fill_login_form(session, session.get(f"{live_server.url}/oidc/authenticate/", timeout=10), "root")
    user = get_user_model().objects.get(username="root")
    assert user.is_superuser and user.is_staff
    assert session.get(f"{live_server.url}/admin/", timeout=10).status_code == 200


@pytest.mark.browser
def test_browser_signs_in_at_the_provider_and_out_of_both(oidc, live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()

    expect(page.get_by_role("heading", name="Test provider: sign in")).to_be_visible()
    assert page.url.startswith(oidc.issuer)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(ACCOUNTS["ada"]["password"])
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="My data")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    user_menu = page.get_by_role("button", name="Ada Lovelace")
    expect(user_menu).to_be_visible()

    user_menu.click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert page.url == f"{live_server.url}/"

    # The provider's session has ended too: it asks for the password again.
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.get_by_label("Password")).to_be_visible()
    assert page.url.startswith(oidc.issuer)
