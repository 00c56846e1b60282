import io

import pytest
from PIL import Image

from logbook import services
from logbook.models import Attachment, Event, Tag

pytestmark = pytest.mark.django_db


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, format="PNG")
    return out.getvalue()


def comment(investigation, author, text="hello"):
    return services.event_create(
        investigation=investigation, type="annotation", category="comment", text=text, author=author
    )


def test_html_is_sanitised_before_it_is_stored(investigation):
    event = services.event_create(
        investigation=investigation, type="notification", category="info",
        html='<p onclick="x()">ok<script>alert(1)</script><a href="javascript:alert(1)">l</a><img src=x onerror=y></p>',
    )  # fmt: skip
    assert "script" not in event.html and "onclick" not in event.html and "javascript" not in event.html
    assert "onerror" not in event.html and event.html.startswith("<p>ok")


def test_an_edit_is_a_new_version_and_the_history_keeps_them_all(investigation, participant):
    first = comment(investigation, participant)
    second = services.event_edit(event=first, user=participant, text="hello again")
    third = services.event_edit(event=second, user=participant, text="hello, third")
    first.refresh_from_db()
    assert not first.is_latest and second.previous_id == first.pk and third.original_id == first.pk
    assert [e.text for e in Event.objects.filter(is_latest=True)] == ["hello, third"]
    from logbook.selectors import event_history

    assert [e.text for e in event_history(first)] == ["hello", "hello again", "hello, third"]


def test_removal_is_a_version_and_can_be_restored(investigation, participant):
    event = comment(investigation, participant)
    removed = services.event_remove(event=event, user=participant)
    assert removed.removed and removed.is_latest
    restored = services.event_restore(event=removed, user=participant)
    assert not restored.removed and restored.text == "hello" and Event.objects.count() == 3


def test_only_the_author_edits_and_never_a_notification(investigation, participant, scientist):
    event = comment(investigation, participant)
    with pytest.raises(services.EventNotEditable):
        services.event_edit(event=event, user=scientist, text="mine now")
    machine = services.event_create(investigation=investigation, type="notification", category="info", text="x")
    with pytest.raises(services.EventNotEditable):
        services.event_edit(event=machine, user=participant, text="y")
    services.event_edit(event=event, user=participant, text="v2")
    with pytest.raises(services.EventNotEditable):  # an old version
        services.event_edit(event=event, user=participant, text="v3")
    assert Event.objects.count() == 3


def test_tags_are_the_logbooks_or_global_and_reused(investigation, other_investigation):
    Tag.objects.create(name="sample", color="#112233")
    one = services.event_create(
        investigation=investigation, type="notification", category="info", text="a", tags=["sample", "beam"]
    )
    services.event_create(investigation=investigation, type="notification", category="info", text="b", tags=["beam"])
    services.event_create(
        investigation=other_investigation, type="notification", category="info", text="c", tags=["beam"]
    )
    assert {t.name: t.investigation_id for t in one.tags.all()} == {"sample": None, "beam": investigation.pk}
    assert Tag.objects.filter(name="beam").count() == 2


def test_an_image_gets_a_thumbnail_under_a_generated_name(investigation, attachment_root):
    event = services.event_create(
        investigation=investigation, type="attachment", category="file",
        attachment=services.AttachmentFile(data=png((2000, 1000)), content_type="image/png", name="../../etc/passwd"),
    )  # fmt: skip
    attachment = event.attachments.get()
    assert attachment.name == "passwd" and ".." not in attachment.stored_name
    assert (attachment_root / attachment.stored_name).read_bytes()[:4] == b"\x89PNG"
    with Image.open(attachment_root / attachment.thumbnail_name) as thumbnail:
        assert max(thumbnail.size) == 480


@pytest.mark.parametrize(
    ("data", "content_type", "field"),
    [
        (b"x" * (2**20 + 1), "application/octet-stream", "file"),
        (b"not a png", "image/png", "file"),
        (b"", "text/plain", "file"),
    ],
)
def test_a_refused_attachment_writes_nothing(investigation, attachment_root, data, content_type, field):
    with pytest.raises(services.LogbookInvalid) as refused:
        services.event_create(
            investigation=investigation, type="attachment", category="file",
            attachment=services.AttachmentFile(data=data, content_type=content_type),
        )  # fmt: skip
    assert field in refused.value.errors
    assert not Event.objects.exists() and not Attachment.objects.exists()
    assert not attachment_root.exists() or not any(attachment_root.rglob("*.*"))


def test_an_unknown_dataset_name_is_refused_by_field(investigation, data_root):
    with pytest.raises(services.LogbookInvalid) as refused:
        services.event_create(
            investigation=investigation, type="notification", category="info", text="x", dataset_name="nope"
        )
    assert set(refused.value.errors) == {"datasetName"} and not Event.objects.exists()
