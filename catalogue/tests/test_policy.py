"""The data policy: release dates and their audit, the portal sections, the release notice."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalogue import selectors, tasks
from catalogue.access import Actor
from catalogue.models import AuditEntry, Investigation, InvestigationUser
from catalogue.policy.services import default_release_date, investigation_release_date_change, release_notices_send

from .conftest import make_dataset, make_investigation, make_user

pytestmark = pytest.mark.django_db


def test_default_release_date_is_the_end_plus_the_embargo(settings):
    settings.EMBARGO_YEARS = 3
    end = timezone.make_aware(datetime(2024, 2, 29, 12))
    assert default_release_date(end) == timezone.make_aware(datetime(2027, 2, 28, 12))


# --- Changing a release date ---------------------------------------------------------------------


def test_release_date_change_is_audited(investigation, staff):
    Investigation.objects.filter(pk=investigation.pk).update(release_notice_sent=timezone.now())
    new = timezone.now() + timedelta(days=900)
    changed = investigation_release_date_change(
        investigation=investigation, release_date=new, actor=staff, reason="Patent pending"
    )
    assert changed.release_date == new and changed.release_notice_sent is None
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (staff, "release_date.change", "Patent pending")
    assert (entry.target_type, entry.target_id) == ("investigation", str(investigation.pk))
    assert entry.details == {"from": investigation.release_date.isoformat(), "to": new.isoformat()}


def test_release_date_change_needs_a_reason(investigation, staff):
    with pytest.raises(ValueError, match="reason"):
        investigation_release_date_change(
            investigation=investigation, release_date=timezone.now(), actor=staff, reason="  "
        )
    assert Investigation.objects.get(pk=investigation.pk).release_date == investigation.release_date
    assert not AuditEntry.objects.exists()


def test_release_date_form_for_admins(client, investigation, staff):
    client.force_login(staff)
    url = reverse("investigation-release-date", args=[investigation.pk])
    assert client.get(url).status_code == 200
    refused = client.post(url, {"release_date": "2030-01-02T10:00", "reason": ""})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    response = client.post(url, {"release_date": "2030-01-02T10:00", "reason": "Thesis"})
    assert response.status_code == 302 and response["Location"] == investigation.get_absolute_url()
    investigation.refresh_from_db()
    assert timezone.localtime(investigation.release_date).date().isoformat() == "2030-01-02"
    assert AuditEntry.objects.get().reason == "Thesis"
    page = client.get(url).content.decode()
    assert "Thesis" in page and "admin" in page  # the history: why and who
    assert url in client.get(investigation.get_absolute_url()).content.decode()


def test_release_date_link_only_for_admins(client, investigation, participant):
    client.force_login(participant)
    url = reverse("investigation-release-date", args=[investigation.pk])
    assert url not in client.get(investigation.get_absolute_url()).content.decode()
    assert client.get(url).status_code == 404


def test_admin_change_of_release_date_needs_a_reason_and_is_audited(client, investigation, db):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    url = reverse("admin:catalogue_investigation_change", args=[investigation.pk])
    local = {name: timezone.localtime(getattr(investigation, name)) for name in ("start_date", "end_date")}
    form = {
        "name": investigation.name,
        "visit_id": investigation.visit_id,
        "title": investigation.title,
        "instrument": investigation.instrument_id,
        "start_date_0": f"{local['start_date']:%Y-%m-%d}",
        "start_date_1": f"{local['start_date']:%H:%M:%S}",
        "end_date_0": f"{local['end_date']:%Y-%m-%d}",
        "end_date_1": f"{local['end_date']:%H:%M:%S}",
        "release_date_0": "2031-05-01",
        "release_date_1": "00:00:00",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
    }
    response = client.post(url, form)
    assert response.status_code == 200 and "Give the reason" in response.content.decode()
    assert not AuditEntry.objects.exists()
    response = client.post(url, form | {"release_date_reason": "Extended by the director"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (root, "release_date.change", "Extended by the director")
    assert timezone.localtime(Investigation.objects.get(pk=investigation.pk).release_date).year == 2031


# --- Portal sections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "shown"), [("anonymous", False), ("participant", False), ("scientist", True), ("staff", True)]
)
def test_embargoed_data_in_the_navbar_for_staff(request, client, investigation, role, shown):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    html = client.get(reverse("home")).content.decode()
    assert (reverse("embargoed-list") in html) is shown
    assert ("My data" in html) is (role != "anonymous")
    assert reverse("investigation-list") + "?section=open" in html


def test_embargoed_list_for_a_scientist(client, scientist, investigation, released_investigation, other_investigation):
    client.force_login(scientist)
    response = client.get(reverse("embargoed-list"))
    assert list(response.context["page_obj"]) == [investigation]
    assert reverse("beamline-detail", args=["ID30"]) in response.content.decode()


def test_embargoed_list_for_an_admin_soonest_first(client, staff, investigation, other_investigation):
    Investigation.objects.filter(pk=other_investigation.pk).update(release_date=timezone.now() + timedelta(days=5))
    client.force_login(staff)
    assert list(client.get(reverse("embargoed-list")).context["page_obj"]) == [other_investigation, investigation]


def test_a_released_datasets_processing_count_hides_embargoed_outputs(
    investigation, released_investigation, data_root, participant
):
    raw = make_dataset(released_investigation, str(data_root / "raw"))
    make_dataset(investigation, str(data_root / "proc")).inputs.add(raw)
    for actor, count in ((Actor(), 0), (Actor(user=participant), 1)):
        assert selectors.dataset_list(actor).get(pk=raw.pk).output_count == count
        # The investigation page's table: its datasets unchecked (the investigation was), their counts not.
        rows = selectors.dataset_table_rows(actor, selectors.investigation_dataset_list(released_investigation))
        assert rows.get().output_count == count


# --- The release notice --------------------------------------------------------------------------


@pytest.fixture
def soon(instrument):
    """Released in 10 days: two participants with an address, one without."""
    investigation = make_investigation(instrument, "MX-9", "v9")
    Investigation.objects.filter(pk=investigation.pk).update(release_date=timezone.now() + timedelta(days=10))
    for name, email in (("ann", "ann@example.org"), ("ben", "ben@example.org"), ("cid", "")):
        user = make_user(name, email=email)
        InvestigationUser.objects.create(
            user=user, investigation=investigation, role=InvestigationUser.Role.PRINCIPAL_INVESTIGATOR
        )
        if name == "ann":  # two roles, one e-mail
            InvestigationUser.objects.create(user=user, investigation=investigation)
    return investigation


def test_release_notice_once_per_participant(
    settings, soon, investigation, released_investigation, participant, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_release_notices.delay().get() == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["ann@example.org", "ben@example.org"]
    assert "MX-9 v9" in mail.outbox[0].subject and "becomes public" in mail.outbox[0].body
    assert Investigation.objects.get(pk=soon.pk).release_notice_sent is not None
    # investigation (a year away) and released_investigation (public already) are not due.
    assert Investigation.objects.filter(release_notice_sent__isnull=False).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert release_notices_send() == 0
    assert len(mail.outbox) == 2


def test_no_mail_when_the_transaction_rolls_back(settings, soon, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        release_notices_send()
    assert len(callbacks) == 1 and mail.outbox == []


def test_a_moved_release_date_is_announced_again(settings, soon, staff, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        release_notices_send()
        investigation_release_date_change(
            investigation=soon, release_date=timezone.now() + timedelta(days=20), actor=staff, reason="Earlier"
        )
        release_notices_send()
    assert len(mail.outbox) == 4


def test_the_periodic_tasks_are_scheduled():
    tasks_scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    periodic = (tasks.sync_user_office, tasks.send_release_notices, tasks.reconcile_registrations)
    storage = (tasks.archive_due_datasets, tasks.release_restored_datasets, tasks.reconcile_restores)
    publication = {"doi.tasks.reconcile_publications", "doi.tasks.publish_released_sessions"}
    assert {task.name for task in (*periodic, *storage)} | publication == tasks_scheduled
