"""Writes to the logbook: events, their versions (edit, removal, restore), tags, attachments.

Each function owns its transaction and checks what it is given (the caller has checked access);
what it refuses raises LogbookInvalid naming the fields, with nothing written. HTML is sanitised with
nh3 before it is stored. Attachment files are written under settings.LOGBOOK_ATTACHMENT_ROOT with
generated names (never a client's path) and removed again if the transaction fails.
"""

import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from catalogue.models import Dataset, Instrument, Investigation

from .models import Attachment, Event, Tag

ALLOWED_TAGS = {
    *("p", "br", "hr", "div", "span", "pre", "code", "blockquote", "b", "strong", "i", "em", "u", "s", "sub"),
    *("sup", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "table", "thead", "tbody"),
    *("tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}, "*": {"class"}}
# Images shown inline and given a thumbnail: Pillow's format -> content type. Anything else is a file.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_IMAGE_PIXELS = 100_000_000
THUMBNAIL_SIZE = (480, 480)
TAG_COLORS = ("#0d6efd", "#6f42c1", "#d63384", "#fd7e14", "#198754", "#20c997", "#0dcaf0", "#6c757d")


class LogbookInvalid(Exception):
    """What the caller sent cannot be stored: {field: reason}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class EventNotEditable(Exception):
    """The actor may not edit, remove or restore this event (or it has a newer version)."""


@dataclass(frozen=True)
class AttachmentFile:
    """A file to attach: its bytes, the type its sender declared and the name to show."""

    data: bytes
    content_type: str = "application/octet-stream"
    name: str = ""


def attachment_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.LOGBOOK_ATTACHMENT_ROOT)


def max_attachment_bytes() -> int:
    return settings.LOGBOOK_MAX_ATTACHMENT_MB * 2**20


def html_sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _check_text(errors: dict, field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors[field] = f"at most {limit} characters"
    elif "\x00" in value:
        errors[field] = "must not contain NUL characters"


def _image(data: bytes) -> tuple[str, bytes] | None:
    """(content type, PNG thumbnail) of an image Pillow reads, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in IMAGE_TYPES or image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            image.load()
            thumbnail = image.convert("RGBA") if image.mode not in ("RGB", "RGBA", "L") else image.copy()
            thumbnail.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            thumbnail.save(out, format="PNG")
            return IMAGE_TYPES[image.format], out.getvalue()
    except Exception:  # Pillow raises many kinds on a damaged or hostile file: it is then not an image
        return None


def _store_attachment(event: Event, file: AttachmentFile, written: list[str]) -> Attachment:
    if len(file.data) > max_attachment_bytes():
        raise LogbookInvalid({"file": f"larger than the limit of {settings.LOGBOOK_MAX_ATTACHMENT_MB} MB"})
    if not file.data:
        raise LogbookInvalid({"file": "empty"})
    image = _image(file.data)
    declared = file.content_type.split(";")[0].strip().lower()
    if image is None and declared.startswith("image/") and declared != "image/svg+xml":
        raise LogbookInvalid({"file": f"not a readable image ({declared})"})
    storage = attachment_storage()
    stem = uuid.uuid4().hex
    content_type = image[0] if image else "application/octet-stream"
    stored = storage.save(f"{stem[:2]}/{stem}", ContentFile(file.data))
    written.append(stored)
    thumbnail = ""
    if image:
        thumbnail = storage.save(f"{stem[:2]}/{stem}-thumb.png", ContentFile(image[1]))
        written.append(thumbnail)
    name = (file.name.replace("\\", "/").rsplit("/", 1)[-1].strip() or f"attachment-{stem[:8]}")[:255]
    return Attachment.objects.create(
        event=event,
        name=name,
        stored_name=stored,
        thumbnail_name=thumbnail,
        content_type=content_type,
        size=len(file.data),
    )


@dataclass
class EventSpec:
    """One event to store: what event_create takes, but a file (an event of a batch)."""

    investigation: Investigation | None = None
    instrument: Instrument | None = None
    type: str = ""
    category: str = ""
    text: str = ""
    html: str = ""
    title: str = ""
    tags: Sequence[str] = ()
    dataset: Dataset | None = None
    dataset_name: str = ""
    author: Any = None
    machine: str = ""
    software: str = ""
    creation_date: datetime | None = None


def _checked(spec: EventSpec, *, has_file: bool, named: Callable[[str], Dataset | None]) -> dict:
    """The event's row (a dict of Event's fields) if the spec may be stored; LogbookInvalid naming the
    fields otherwise. named(name) finds the investigation's dataset of that name."""
    errors: dict[str, str] = {}
    investigation, instrument, dataset = spec.investigation, spec.instrument, spec.dataset
    if spec.type not in Event.Type.values:
        errors["type"] = f"one of {', '.join(Event.Type.values)}"
    category = "commandLine" if spec.category == "commandline" else spec.category
    if category not in Event.Category.values:
        errors["category"] = f"one of {', '.join(Event.Category.values)}"
    if spec.type == Event.Type.BROADCAST and (investigation or instrument):
        errors["type"] = "a broadcast belongs to the facility, not to a logbook"
    if spec.type != Event.Type.BROADCAST and not (investigation or instrument):
        errors["type"] = "only broadcasts belong to no logbook"
    for field, limit in (("text", 1_000_000), ("html", 1_000_000), ("title", 255), ("machine", 255), ("software", 255)):
        _check_text(errors, field, getattr(spec, field), limit)
    for name in spec.tags:
        if not name.strip() or len(name) > 64 or "\x00" in name:
            errors["tag"] = "tag names are 1 to 64 characters"
    if spec.dataset_name and not dataset:
        if investigation is None:
            errors["datasetName"] = "a dataset belongs to an investigation's logbook only"
        else:
            dataset = named(spec.dataset_name)
            if dataset is None:
                errors["datasetName"] = f"no dataset {spec.dataset_name[:100]!r} in {investigation}"
    if dataset is not None and (investigation is None or dataset.investigation_id != investigation.pk):
        errors["datasetId"] = "not a dataset of this investigation"
    if not (spec.text.strip() or spec.html.strip() or has_file):
        errors.setdefault("content", "give a text, an HTML text or a file")
    if errors:
        raise LogbookInvalid(errors)
    author = spec.author
    return {
        "investigation": investigation,
        "instrument": None if investigation else instrument,
        "type": spec.type,
        "category": category,
        "title": spec.title,
        "text": spec.text,
        "html": html_sanitise(spec.html) if spec.html else "",
        "dataset": dataset,
        "author": author if author is not None and author.is_authenticated else None,
        "machine": spec.machine,
        "software": spec.software,
        "creation_date": spec.creation_date or timezone.now(),
    }


def event_create(*, attachment: AttachmentFile | None = None, **fields) -> Event:
    """Stores a new event in an investigation's logbook, an instrument's, or the facility's (neither):
    the fields of EventSpec, and a file."""
    spec = EventSpec(**fields)
    investigation = spec.investigation

    def named(name: str) -> Dataset | None:
        return Dataset.objects.filter(investigation=investigation, name=name).order_by("-id").first()

    row = _checked(spec, has_file=attachment is not None, named=named)
    written: list[str] = []
    try:
        with transaction.atomic():
            event = Event.objects.create(**row)
            if spec.tags:
                tags = _tags_batch([spec])
                event.tags.set([tags[_scope(spec), name] for name in _tag_names(spec)])
            if attachment is not None:
                _store_attachment(event, attachment, written)
    except BaseException:
        _delete_files(written)
        raise
    return event


def event_create_batch(specs: Sequence[EventSpec]) -> list[Event | LogbookInvalid]:
    """Stores many events at once (the API's batch): each checked as event_create checks it, the valid
    ones written together in one transaction (one INSERT of the events, one of their tag links, one of
    the tags they name for the first time); answered in the specs' order, an Event or the
    LogbookInvalid of a refused spec, which writes nothing of it. Datasets named by name are read in
    one query per investigation."""
    by_name = _datasets_named(specs)
    outcomes: list[Event | LogbookInvalid] = []
    for spec in specs:
        inv_id = spec.investigation.pk if spec.investigation else None
        try:
            row = _checked(spec, has_file=False, named=lambda name, inv_id=inv_id: by_name.get((inv_id, name)))
            outcomes.append(Event(**row))
        except LogbookInvalid as exc:
            outcomes.append(exc)
    valid = [(event, spec) for event, spec in zip(outcomes, specs, strict=True) if isinstance(event, Event)]
    if not valid:
        return outcomes
    with transaction.atomic():
        Event.objects.bulk_create([event for event, _ in valid])
        tagged = [(event, spec) for event, spec in valid if spec.tags]
        if tagged:
            tags = _tags_batch([spec for _, spec in tagged])
            Link = Event.tags.through
            Link.objects.bulk_create(
                [
                    Link(event_id=event.pk, tag_id=tags[_scope(spec), name].pk)
                    for event, spec in tagged
                    for name in _tag_names(spec)
                ]
            )
    return outcomes


def _datasets_named(specs: Sequence[EventSpec]) -> dict[tuple[int, str], Dataset]:
    """{(investigation id, name): its newest dataset of that name} for the names the specs give."""
    wanted: dict[int, set[str]] = {}
    for spec in specs:
        if spec.dataset_name and spec.dataset is None and spec.investigation is not None:
            wanted.setdefault(spec.investigation.pk, set()).add(spec.dataset_name)
    found = {}
    for inv_id, names in wanted.items():
        for dataset in Dataset.objects.filter(investigation_id=inv_id, name__in=names).order_by("id"):
            found[inv_id, dataset.name] = dataset  # the newest last
    return found


def _scope(spec: EventSpec) -> tuple[int | None, int | None]:
    """(investigation id, instrument id) of the logbook whose tags the spec's event takes."""
    if spec.investigation is not None:
        return spec.investigation.pk, None
    return None, spec.instrument.pk if spec.instrument else None


def _tag_names(spec: EventSpec) -> list[str]:
    """The spec's tag names, stripped, each once, in their order."""
    return list(dict.fromkeys(name.strip() for name in spec.tags))


def _tags_batch(specs: Sequence[EventSpec]) -> dict[tuple[tuple, str], Tag]:
    """{(scope, name): Tag} for every tag name of the specs: the logbook's own, else a global one,
    else a new one of the logbook. One query to read them, one INSERT for the new ones (and one more
    query to read those back), whatever the number of events and names."""
    wanted = {(_scope(spec), name) for spec in specs for name in _tag_names(spec)}
    scopes = {scope for scope, _ in wanted}
    names = {name for _, name in wanted}
    own = Q(pk__in=[])
    for inv_id, instrument_id in scopes:
        own |= Q(investigation_id=inv_id) if inv_id else Q(instrument_id=instrument_id, investigation=None)
    existing = list(Tag.objects.filter(name__in=names).filter(own | Q(investigation=None, instrument=None)))
    found = _choose_tags(wanted, existing)
    missing = wanted - found.keys()
    if missing:
        Tag.objects.bulk_create(
            [
                Tag(
                    name=name,
                    investigation_id=inv_id,
                    instrument_id=instrument_id,
                    color=TAG_COLORS[sum(map(ord, name)) % len(TAG_COLORS)],
                )
                for (inv_id, instrument_id), name in sorted(missing, key=repr)
            ],
            ignore_conflicts=True,  # made meanwhile by another request: read below
        )
        own = Q(pk__in=[])
        for (inv_id, instrument_id), name in missing:
            own |= Q(name=name, investigation_id=inv_id, instrument_id=instrument_id)
        found |= _choose_tags(missing, list(Tag.objects.filter(own)))
    return found


def _choose_tags(wanted, tags: list[Tag]) -> dict[tuple[tuple, str], Tag]:
    own = {((t.investigation_id, None) if t.investigation_id else (None, t.instrument_id), t.name): t for t in tags}
    shared = {t.name: t for t in tags if t.investigation_id is None and t.instrument_id is None}
    found = {}
    for scope, name in wanted:
        tag = own.get((scope, name)) or shared.get(name)
        if tag is not None:
            found[scope, name] = tag
    return found


def _delete_files(names: list[str]) -> None:
    storage = attachment_storage()
    for name in names:
        storage.delete(name)


def _editable(event: Event, user) -> None:
    if not (event.type == Event.Type.ANNOTATION and event.is_latest and user.is_authenticated):
        raise EventNotEditable("Only the current version of an annotation can change.")
    if event.author_id != user.pk:
        raise EventNotEditable("Only its author edits an annotation.")


def _new_version(event: Event, user, **changes) -> Event:
    """The next version of the event: a copy with the changes, its tags and attachments."""
    with transaction.atomic():
        locked = Event.objects.select_for_update().get(pk=event.pk)
        _editable(locked, user)
        Event.objects.filter(pk=locked.pk).update(is_latest=False)
        tags = list(locked.tags.all())
        attachments = list(locked.attachments.all())
        version = Event.objects.get(pk=locked.pk)
        version.pk = None
        version.id = None
        version._state.adding = True
        version.original_id = locked.root_id
        version.previous_id = locked.pk
        version.is_latest = True
        for field, value in changes.items():
            setattr(version, field, value)
        try:
            version.save()
        except IntegrityError:  # another edit of the same version won
            raise EventNotEditable("This version was edited meanwhile: reload and try again.") from None
        version.tags.set(tags)
        for attachment in attachments:
            attachment.pk = None
            attachment.event = version
        Attachment.objects.bulk_create(attachments)
    return version


def event_edit(*, event: Event, user, text: str, title: str = "") -> Event:
    """A new version of an annotation, by its author, with a new plain text and title."""
    errors: dict[str, str] = {}
    _check_text(errors, "text", text, 1_000_000)
    _check_text(errors, "title", title, 255)
    if not text.strip() and not event.attachments.exists():
        errors["text"] = "give a text"
    if errors:
        raise LogbookInvalid(errors)
    return _new_version(event, user, text=text, html="", title=title, removed=False)


def event_remove(*, event: Event, user) -> Event:
    """Removing is a version too: the event disappears from the timeline and can be restored."""
    if event.removed:
        raise EventNotEditable("Already removed.")
    return _new_version(event, user, removed=True)


def event_restore(*, event: Event, user) -> Event:
    if not event.removed:
        raise EventNotEditable("Not removed.")
    return _new_version(event, user, removed=False)
