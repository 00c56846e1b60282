"""What the timeline (rendered by Jinja2, logbook.timeline) shows of each event: day headings, time,
author or machine, category and type, software, dataset link, tags, text (escaped, lines kept; a
command as code), sanitised HTML, images and files, the edit and history links of one's own
annotations, and the live poller on the first unfiltered page only."""

import io
import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from catalogue.tests.conftest import make_dataset
from logbook import services

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(out, format="PNG")
    return out.getvalue()


def test_what_an_event_shows(client, investigation, participant, data_root):
    participant.first_name, participant.last_name = "Ada", "Lovelace"
    participant.save()
    dataset = make_dataset(investigation, str(data_root / "scan1"), name="scan1")
    day = timezone.make_aware(datetime(2026, 11, 3, 14, 5, 9))
    machine = services.event_create(
        investigation=investigation, type="notification", category="commandLine", text="ascan sy 0 1 <10>",
        machine="bliss-id30", software="bliss", dataset=dataset, tags=["beam", "align"], creation_date=day,
    )  # fmt: skip
    mine = services.event_create(
        investigation=investigation, type="annotation", category="comment", title="Crystal <1>",
        text="line one\nline <two>", author=participant, creation_date=day + timedelta(days=1),
    )  # fmt: skip
    html = services.event_create(
        investigation=investigation, type="notification", category="error", creation_date=day + timedelta(days=1),
        html='<p>motor <b>fault</b><script>alert(1)</script></p>',
    )  # fmt: skip
    image = services.event_create(
        investigation=investigation, type="attachment", category="file", creation_date=day + timedelta(days=2),
        attachment=services.AttachmentFile(data=png(), content_type="image/png", name="mesh.png"),
    )  # fmt: skip
    file = services.event_create(
        investigation=investigation, type="attachment", category="file", creation_date=day + timedelta(days=2),
        attachment=services.AttachmentFile(data=b"x" * 2048, name="notes.txt"),
    )  # fmt: skip
    client.force_login(participant)
    body = client.get(reverse("logbook:investigation", args=[investigation.pk])).content.decode()

    assert body.count('class="h6 logbook-day') == 3  # one heading a day
    assert "Tuesday 3 November 2026" in body and "Wednesday 4 November 2026" in body
    assert '<time datetime="2026-11-03T14:05:09+01:00">14:05:09</time>' in body
    # the machine's command: code, escaped; its dataset, tags and software
    assert '<pre class="logbook-command mb-1"><code>ascan sy 0 1 &lt;10&gt;</code></pre>' in body
    assert f'href="/datasets/{dataset.pk}/"' in body and "bliss-id30" in body and "· bliss" in body
    assert re.search(r'class="badge logbook-tag" data-color="#[0-9a-f]{6}">align</span>.*>beam</span>', body)
    assert '<span class="badge text-bg-light border">Command line</span>' in body
    # one's own annotation: its author's name, escaped text with its lines, edit and history
    assert "Ada Lovelace" in body and "Crystal &lt;1&gt;" in body and "line one<br>line &lt;two&gt;" in body
    assert reverse("logbook:event-edit", args=[mine.pk]) in body
    assert reverse("logbook:event-history", args=[mine.pk]) in body
    assert reverse("logbook:event-edit", args=[machine.pk]) not in body
    # sanitised HTML as HTML
    assert '<div class="logbook-html"><p>motor <b>fault</b></p></div>' in body and "alert(1)" not in body
    assert f'id="event-{html.pk}"' in body
    # an image's thumbnail, a file's link and size
    image_file = image.attachments.get()
    assert f'src="{reverse("logbook:attachment-thumbnail", args=[image_file.pk])}" alt="mesh.png"' in body
    assert reverse("logbook:attachment", args=[file.attachments.get().pk]) in body and "notes.txt" in body
    assert "(2.0\xa0KB)" in body
    assert body.count('id="logbook-live"') == 1


def test_an_edited_event_links_its_history_and_others_cannot_edit(client, investigation, participant, scientist):
    event = services.event_create(
        investigation=investigation, type="annotation", category="comment", text="first", author=participant
    )
    edited = services.event_edit(event=event, user=participant, text="second")
    client.force_login(scientist)
    body = client.get(reverse("logbook:investigation", args=[investigation.pk])).content.decode()
    assert "second" in body and "first" not in body
    history = reverse("logbook:event-history", args=[edited.pk])
    assert f'href="{history}"><i class="bi bi-clock-history"></i> edited' in body
    assert reverse("logbook:event-edit", args=[edited.pk]) not in body


def test_the_live_poller_is_on_the_first_unfiltered_page_only(client, investigation, participant):
    for i in range(3):
        services.event_create(investigation=investigation, type="notification", category="info", text=f"e{i}")
    client.force_login(participant)
    url = reverse("logbook:investigation", args=[investigation.pk])
    assert client.get(url).content.decode().count('id="logbook-live"') == 1
    assert 'id="logbook-live"' not in client.get(url, {"q": "e1"}).content.decode()
    assert 'id="logbook-live"' not in client.get(url, {"before": 10**6}).content.decode()
    empty = client.get(reverse("logbook:investigation", args=[investigation.pk]), {"category": "error"})
    assert "No events match these filters." in empty.content.decode()
