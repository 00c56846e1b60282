"""Staff views: the beamline schedule and its iCalendar feed; the admin's audit log of access."""

import re
from datetime import UTC, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalogue.models import AuditEntry, InstrumentApiKey, InstrumentScientist, Investigation, InvestigationUser
from catalogue.people.services import api_key_create, api_key_revoke, audit_record
from catalogue.policy.services import investigation_release_date_change
from catalogue.schedule import beamline

from .conftest import make_investigation, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions(instrument, other_instrument):
    """On ID30: one past, one running, one upcoming; on BM29: one running."""
    now = timezone.now()
    past = make_investigation(instrument, "MX-PAST", "p1", days_ago=40)
    running = make_investigation(instrument, "MX-NOW", "n1", days_ago=0)
    Investigation.objects.filter(pk=running.pk).update(start_date=now - timedelta(hours=2))
    upcoming = make_investigation(instrument, "MX-NEXT", "u1", days_ago=-20)
    Investigation.objects.filter(pk=upcoming.pk).update(title="Lysozyme; ligands, soaks\nday 2")
    elsewhere = make_investigation(other_instrument, "SAXS-NOW", "s1", days_ago=0)
    return {"past": past, "running": running, "upcoming": upcoming, "elsewhere": elsewhere}


def test_beamline_page_lists_past_running_and_upcoming(client, scientist, sessions):
    client.force_login(scientist)
    response = client.get(reverse("beamline-detail", args=["ID30"]))
    assert response.status_code == 200
    context = response.context
    assert [s.name for s in context["running"]] == ["MX-NOW"]
    assert [s.name for s in context["upcoming"]] == ["MX-NEXT"]
    assert [s.name for s in context["past"]] == ["MX-PAST"]
    assert "SAXS-NOW" not in response.content.decode()


def test_month_grid(client, scientist, sessions):
    client.force_login(scientist)
    start = timezone.localtime(sessions["upcoming"].start_date)
    response = client.get(reverse("beamline-detail", args=["ID30"]), {"month": f"{start:%Y-%m}"})
    weeks = response.context["weeks"]
    assert all(len(week) == 7 for week in weeks) and weeks[0][0].date.weekday() == 0
    days = {day.date: [s.name for s in day.sessions] for week in weeks for day in week}
    assert "MX-NEXT" in days[start.date()] and "MX-NEXT" in days[start.date() + timedelta(days=1)]
    assert "MX-NEXT" not in days.get(start.date() + timedelta(days=2), [])
    assert response.context["next_month"] > f"{start:%Y-%m}" > response.context["previous_month"]


@pytest.mark.parametrize("month", ["", "2026-13", "nonsense"])
def test_a_bad_month_shows_this_month(client, scientist, instrument, month):
    client.force_login(scientist)
    response = client.get(reverse("beamline-detail", args=["ID30"]), {"month": month})
    assert response.context["month"] == timezone.localdate().replace(day=1)


def _unfold(text: str) -> str:
    return text.replace("\r\n ", "")


def test_ical_feed(client, scientist, sessions):
    client.force_login(scientist)
    response = client.get(reverse("beamline-calendar", args=["ID30"]))
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line ends with CRLF
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    events = re.findall(r"BEGIN:VEVENT\r\n(.*?)END:VEVENT", _unfold(text), re.S)
    assert len(events) == 3
    upcoming = next(event for event in events if "MX-NEXT" in event)
    fields = dict(line.split(":", 1) for line in upcoming.strip().split("\r\n"))
    assert set(fields) >= {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"}
    assert fields["UID"] == f"investigation-{sessions['upcoming'].pk}@testserver"
    assert fields["DTSTART"] == f"{sessions['upcoming'].start_date.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    assert fields["SUMMARY"] == "MX-NEXT u1 — Lysozyme\\; ligands\\, soaks\\nday 2"


def test_long_lines_fold_at_75_octets():
    line = "SUMMARY:" + "é" * 100
    folded = beamline._fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line


def test_signed_feed_url_for_calendar_apps(client, scientist, sessions, other_instrument):
    client.force_login(scientist)
    feed_url = client.get(reverse("beamline-detail", args=["ID30"])).context["feed_url"]
    anonymous = Client()
    assert anonymous.get(feed_url).status_code == 200
    assert anonymous.get(reverse("beamline-calendar", args=["ID30"])).status_code == 302  # no token: sign in
    token = feed_url.split("token=")[1]
    assert anonymous.get(reverse("beamline-calendar", args=["BM29"]), {"token": token}).status_code == 404
    assert anonymous.get(reverse("beamline-calendar", args=["ID30"]), {"token": token + "x"}).status_code == 404
    InstrumentScientist.objects.filter(user=scientist).delete()
    assert anonymous.get(feed_url).status_code == 404  # the link dies with the role


def test_feed_token_cannot_be_forged_for_another_user(scientist, instrument):
    token = beamline.feed_token(scientist, instrument)
    assert beamline.feed_token_load(token) == (scientist.pk, instrument.pk)
    payload, signature = token.split(":", 1)
    forged = signing.dumps([999, instrument.pk], salt=beamline.FEED_SALT).split(":", 1)[0] + ":" + signature
    assert beamline.feed_token_load(forged) is None
    assert beamline.feed_token_load(signing.dumps([scientist.pk, instrument.pk])) is None  # another salt
    assert beamline.feed_token_load("garbage") is None


# --- The admin: access changes are audited -------------------------------------------------------


@pytest.fixture
def root(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_admin_role_add_and_remove_are_audited(admin_client, root, investigation, other_user):
    response = admin_client.post(
        reverse("admin:catalogue_investigationuser_add"),
        {"user": other_user.pk, "investigation": investigation.pk, "role": "co_proposer"},
    )
    assert response.status_code == 302
    member = InvestigationUser.objects.get(user=other_user)
    response = admin_client.post(reverse("admin:catalogue_investigationuser_delete", args=[member.pk]), {"post": "yes"})
    assert response.status_code == 302 and not InvestigationUser.objects.filter(user=other_user).exists()
    entries = list(AuditEntry.objects.order_by("id").values_list("actor__username", "action", "details"))
    assert entries == [
        ("root", "investigation_user.add", {"user": "other", "role": "co_proposer"}),
        ("root", "investigation_user.remove", {"user": "other", "role": "co_proposer"}),
    ]


def test_admin_inline_scientists_are_audited(admin_client, instrument, other_user):
    url = reverse("admin:catalogue_instrument_change", args=[instrument.pk])
    form = {
        "name": instrument.name,
        "full_name": instrument.full_name,
        "description": "",
        "validation": "",
        "scientists-TOTAL_FORMS": "1",
        "scientists-INITIAL_FORMS": "0",
        "scientists-0-user": other_user.pk,
    }
    assert admin_client.post(url, form).status_code == 302
    assert InstrumentScientist.objects.filter(user=other_user, instrument=instrument).exists()
    assert AuditEntry.objects.get().action == "instrument_scientist.add"


def test_admin_api_keys_are_audited_and_not_deleted(admin_client, root, instrument):
    response = admin_client.post(
        reverse("admin:catalogue_instrumentapikey_add"), {"instrument": instrument.pk, "name": "pipeline"}
    )
    assert response.status_code == 302
    key = InstrumentApiKey.objects.get()
    admin_client.post(
        reverse("admin:catalogue_instrumentapikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked is not None
    actions = list(AuditEntry.objects.order_by("id").values_list("actor__username", "action"))
    assert actions == [("root", "api_key.create"), ("root", "api_key.revoke")]
    assert admin_client.get(reverse("admin:catalogue_instrumentapikey_delete", args=[key.pk])).status_code == 403


def test_service_keys_record_their_actor(instrument, root):
    key, _ = api_key_create(instrument=instrument, name="n", actor=root)
    api_key_revoke(key=key, actor=root)
    api_key_revoke(key=key, actor=root)  # already revoked: nothing more to record
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "api_key.create",
        "api_key.revoke",
    ]


def test_admin_rights_changes_are_audited(admin_client, other_user):
    url = reverse("admin:auth_user_change", args=[other_user.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data |= {
        "is_staff": "on",
        "is_active": "on",
        "date_joined_0": f"{timezone.localtime(other_user.date_joined):%Y-%m-%d}",
        "date_joined_1": f"{timezone.localtime(other_user.date_joined):%H:%M:%S}",
    }
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    for prefix in ("profile", "instrument_roles", "investigation_roles"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.details) == ("user.access.change", {"is_staff": True})


def test_audit_log_admin_is_read_only_and_filters(admin_client, investigation, root):
    investigation_release_date_change(
        investigation=investigation, release_date=timezone.now(), actor=root, reason="Published"
    )
    audit_record(actor=AnonymousUser(), action="api_key.create", target=investigation, summary="x")
    changelist = reverse("admin:catalogue_auditentry_changelist")
    response = admin_client.get(changelist, {"action": "release_date.change"})
    assert response.status_code == 200 and response.context["cl"].result_count == 1
    assert admin_client.get(changelist, {"time__gte": "2000-01-01T00:00:00+00:00"}).context["cl"].result_count == 2
    assert admin_client.get(reverse("admin:catalogue_auditentry_add")).status_code == 403
    entry = AuditEntry.objects.first()
    assert admin_client.get(reverse("admin:catalogue_auditentry_delete", args=[entry.pk])).status_code == 403
    change = admin_client.get(reverse("admin:catalogue_auditentry_change", args=[entry.pk]))
    assert change.status_code == 200 and 'type="submit" value="Save"' not in change.content.decode()
