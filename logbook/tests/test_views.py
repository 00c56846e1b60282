import io

import pytest
from django.urls import reverse
from PIL import Image

from logbook import services
from logbook.models import Event, Tag

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, format="PNG")
    return out.getvalue()


def notification(investigation, text, **fields):
    return services.event_create(investigation=investigation, type="notification", category="info", text=text, **fields)


def test_participants_write_edit_and_see_the_history(client, investigation, participant):
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    response = client.post(url, {"title": "", "text": "crystal <b>1</b> looks good", "tags": "sample, beam"})
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.author == participant and event.type == "annotation" and event.tags.count() == 2
    page = client.get(url).content.decode()
    assert "crystal &lt;b&gt;1&lt;/b&gt; looks good" in page  # plain text is escaped
    edit = reverse("logbook:event-edit", args=[event.pk])
    assert client.post(edit, {"title": "", "text": "crystal 1 diffracts"}).status_code == 302
    history = client.get(reverse("logbook:event-history", args=[event.pk])).content.decode()
    assert "crystal &lt;b&gt;1&lt;/b&gt; looks good" in history and "crystal 1 diffracts" in history


def test_a_comment_with_an_image_and_its_access_checked_file(client, investigation, participant, other_user):
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    upload = io.BytesIO(png())
    upload.name = "screenshot.png"
    assert client.post(url, {"text": "", "tags": "", "file": upload}).status_code == 302
    attachment = Event.objects.get().attachments.get()
    response = client.get(reverse("logbook:attachment", args=[attachment.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff" and "attachment" not in response["Content-Disposition"]
    assert client.get(reverse("logbook:attachment-thumbnail", args=[attachment.pk])).status_code == 200
    client.force_login(other_user)
    assert client.get(reverse("logbook:attachment", args=[attachment.pk])).status_code == 404


def test_a_file_is_offered_as_a_download(client, investigation, participant):
    event = services.event_create(
        investigation=investigation, type="attachment", category="file",
        attachment=services.AttachmentFile(data=b"<html><script>x</script>", content_type="text/html", name="a.html"),
    )  # fmt: skip
    client.force_login(participant)
    response = client.get(reverse("logbook:attachment", args=[event.attachments.get().pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_a_stored_name_outside_the_root_is_never_served(client, investigation, participant, attachment_root, tmp_path):
    event = services.event_create(
        investigation=investigation, type="attachment", category="file",
        attachment=services.AttachmentFile(data=b"data", name="a.txt"),
    )  # fmt: skip
    (tmp_path / "secret.txt").write_text("secret")
    attachment = event.attachments.get()
    attachment.stored_name = "../secret.txt"
    attachment.save()
    client.force_login(participant)
    assert client.get(reverse("logbook:attachment", args=[attachment.pk])).status_code == 404


def test_filters_by_tag_and_text(client, investigation, participant):
    notification(investigation, "beam lost", tags=["beam"])
    notification(investigation, "sample mounted", tags=["sample"])
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    tag = Tag.objects.get(name="beam")
    page = client.get(url, {"tag": tag.pk}).content.decode()
    assert "beam lost" in page and "sample mounted" not in page
    page = client.get(url, {"q": "MOUNTED"}).content.decode()
    assert "beam lost" not in page and "sample mounted" in page


def test_keyset_pages(client, investigation, participant):
    for i in range(60):
        notification(investigation, f"event number {i:02}")
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    first = client.get(url)
    assert "event number 59" in first.content.decode() and "event number 09" not in first.content.decode()
    second = client.get(url, {"before": first.context["before"]}).content.decode()
    assert "event number 09" in second and "event number 10" not in second


@pytest.mark.parametrize("extra", [0, 40])
def test_the_page_costs_the_same_queries_whatever_its_events(
    client, investigation, participant, extra, django_assert_num_queries
):
    notification(investigation, "first")
    for i in range(extra):
        notification(investigation, f"e{i}", tags=[f"t{i % 3}"])
        services.event_create(
            investigation=investigation, type="attachment", category="file",
            attachment=services.AttachmentFile(data=png(), content_type="image/png"),
        )  # fmt: skip
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    client.get(url)
    # session, user, investigation, events, their tags' names, their attachments, the navbar's staff
    # check, the tag filter's choices (no write check: whoever reads this logbook writes to it)
    with django_assert_num_queries(8):
        assert client.get(url).status_code == 200


def test_live_poll_returns_only_newer_events(client, investigation, participant):
    old = notification(investigation, "old event")
    client.force_login(participant)
    notification(investigation, "new event")
    response = client.get(
        reverse("logbook:investigation", args=[investigation.pk]), {"after": old.pk}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "new event" in body and "old event" not in body and "logbook-live" in body


def test_the_beamline_logbook_is_for_its_staff(client, instrument, scientist, participant):
    services.event_create(instrument=instrument, type="notification", category="error", text="vacuum fault")
    client.force_login(scientist)
    url = reverse("logbook:beamline", args=[instrument.name])
    assert "vacuum fault" in client.get(url).content.decode()
    client.force_login(participant)
    assert client.get(url).status_code == 404


def test_a_released_investigations_logbook_stays_private(client, released_investigation, other_user):
    notification(released_investigation, "private note")
    client.force_login(other_user)
    assert client.get(reverse("logbook:investigation", args=[released_investigation.pk])).status_code == 404
    assert client.get(reverse("investigation-detail", args=[released_investigation.pk])).status_code == 200


def test_broadcasts_on_the_home_page(client, db):
    services.event_create(type="broadcast", category="info", text="Machine restart at <b>8:00</b>")
    assert "logbook-broadcasts" in client.get(reverse("home")).content.decode()
    assert "Machine restart at &lt;b&gt;8:00&lt;/b&gt;" in client.get(reverse("logbook:broadcasts")).content.decode()
