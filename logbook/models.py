"""The electronic logbook, after ICAT+'s logbook event: events of an investigation (experiment logbook),
of an instrument (beamline logbook, for its staff) or of the facility (broadcasts, for everyone); their
versions (an edit or a removal is a new row linked to the one it replaces); tags; attachments."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalogue.models import Dataset, Instrument, Investigation


class Tag(models.Model):
    """A label with a colour: an investigation's, an instrument's, or global (neither)."""

    name = models.CharField(max_length=64)
    color = models.CharField(max_length=7, default="#6c757d", help_text="#rrggbb")
    investigation = models.ForeignKey(
        Investigation, null=True, blank=True, on_delete=models.CASCADE, related_name="logbook_tags"
    )
    instrument = models.ForeignKey(
        Instrument, null=True, blank=True, on_delete=models.CASCADE, related_name="logbook_tags"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["investigation", "name"], condition=Q(investigation__isnull=False), name="tag_unique_inv"
            ),
            models.UniqueConstraint(
                fields=["instrument", "name"], condition=Q(instrument__isnull=False), name="tag_unique_instrument"
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(investigation__isnull=True, instrument__isnull=True),
                name="tag_unique_global",
            ),
            models.CheckConstraint(
                condition=Q(investigation__isnull=True) | Q(instrument__isnull=True), name="tag_one_scope"
            ),
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="tag_color_hex"),
        ]

    def __str__(self):
        return self.name


class Event(models.Model):
    """One version of a logbook event. The current version of each event has is_latest; the one it
    replaced is `previous`, and every version points to the first as `original` (None on the first)."""

    class Type(models.TextChoices):
        ANNOTATION = "annotation"  # a person's: editable by its author
        NOTIFICATION = "notification"  # a machine's: never edited
        BROADCAST = "broadcast"  # the facility's, shown to everyone
        ATTACHMENT = "attachment"  # an image or a file

    class Category(models.TextChoices):
        COMMENT = "comment"
        INFO = "info"
        ERROR = "error"
        DEBUG = "debug"
        COMMAND_LINE = "commandLine", "Command line"
        FILE = "file"

    investigation = models.ForeignKey(
        Investigation, null=True, blank=True, on_delete=models.CASCADE, related_name="logbook_events"
    )
    # Set on the beamline logbook's events only (an investigation's event reaches its instrument through it).
    instrument = models.ForeignKey(
        Instrument, null=True, blank=True, on_delete=models.CASCADE, related_name="logbook_events"
    )
    type = models.CharField(max_length=16, choices=Type.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    title = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True, help_text="Plain text, escaped when shown")
    html = models.TextField(blank=True, help_text="HTML, sanitised (nh3) before it is stored")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tags = models.ManyToManyField(Tag, blank=True, related_name="events")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="logbook_events"
    )
    machine = models.CharField(max_length=255, blank=True)
    software = models.CharField(max_length=255, blank=True)
    creation_date = models.DateTimeField(help_text="When the sender says the event happened")
    created = models.DateTimeField(auto_now_add=True, help_text="When the server stored this version")
    original = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="later_versions")
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="next_version"
    )
    is_latest = models.BooleanField(default=True)
    removed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(investigation__isnull=True) | Q(instrument__isnull=True), name="event_one_logbook"
            ),
        ]
        # The timelines read the current versions of one logbook by id, newest first (keyset).
        indexes = [
            models.Index(fields=["investigation", "-id"], condition=Q(is_latest=True), name="event_investigation"),
            models.Index(fields=["instrument", "-id"], condition=Q(is_latest=True), name="event_instrument"),
            models.Index(fields=["-id"], condition=Q(is_latest=True, type="broadcast"), name="event_broadcast"),
        ]

    def __str__(self):
        return self.title or (self.text or self.html)[:60] or f"event {self.pk}"

    @property
    def root_id(self) -> int:
        return self.original_id or self.pk


class Attachment(models.Model):
    """A file of an event, stored under settings.LOGBOOK_ATTACHMENT_ROOT under a generated name."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=255, help_text="Shown and offered on download; never a path")
    stored_name = models.CharField(max_length=100, editable=False)
    thumbnail_name = models.CharField(max_length=100, blank=True, editable=False)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail_name)
