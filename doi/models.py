"""Data publications: what a DOI names (a session, or a selection of datasets), who made it, and
where it stands at DataCite.

`state` is where the publication stands for the facility (draft -> reserved -> findable, or
withdrawn: a tombstone, never deleted); `sync_pending` is the outbox: set in the transaction that
changes what DataCite must know, cleared by the task that told it (doi/tasks.py), which records
what DataCite holds in `datacite_state`.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse

from catalogue.models import DataCollection, Investigation


class Publication(models.Model):
    class Kind(models.TextChoices):
        SESSION = "session", "Session (investigation)"
        SELECTION = "selection", "Selection of datasets"

    class State(models.TextChoices):
        DRAFT = "draft"
        RESERVED = "reserved", "Reserved (DOI in DataCite as a draft)"
        REVIEW = "review", "Awaiting staff review"
        FINDABLE = "findable", "Published"
        WITHDRAWN = "withdrawn", "Withdrawn (tombstone)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    doi = models.CharField("DOI", max_length=200, unique=True, help_text="prefix/suffix, upper case")
    investigation = models.ForeignKey(
        Investigation, null=True, blank=True, on_delete=models.PROTECT, related_name="publications"
    )
    # A selection's datasets, copied into a DataCollection of kind "publication" when it is minted.
    collection = models.OneToOneField(
        DataCollection, null=True, blank=True, on_delete=models.PROTECT, related_name="publication"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="publications"
    )
    title = models.CharField(max_length=500)
    abstract = models.TextField(blank=True)
    licence = models.CharField(max_length=64, help_text="SPDX identifier, e.g. CC-BY-4.0")
    # [{"relatedIdentifier": ..., "relatedIdentifierType": "DOI", "relationType": "IsCitedBy"}]
    related_identifiers = models.JSONField(default=list, blank=True)
    # [{"funderName": ..., "funderIdentifier": ..., "funderIdentifierType": ..., "awardNumber": ...}]
    funding = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    published = models.DateTimeField(null=True, blank=True, help_text="When it became findable")
    withdrawn = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=500, blank=True)
    # The outbox and what DataCite holds ("": nothing; draft, findable, registered).
    datacite_state = models.CharField(max_length=16, blank=True, editable=False)
    sync_pending = models.BooleanField(default=False, editable=False)
    sync_sent = models.DateTimeField(null=True, blank=True, editable=False)
    sync_attempts = models.PositiveIntegerField(default=0, editable=False)
    sync_error = models.TextField(blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["investigation"], condition=models.Q(kind="session"), name="publication_one_per_session"
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="session", investigation__isnull=False, collection__isnull=True))
                | models.Q(kind="selection", investigation__isnull=True, collection__isnull=False),
                name="publication_session_or_selection",
            ),
        ]
        indexes = [
            models.Index(fields=["sync_pending", "sync_sent"], name="publication_outbox"),
            models.Index(fields=["modified", "id"], name="publication_harvest"),
        ]

    def __str__(self):
        return f"{self.doi} {self.title}"

    def get_absolute_url(self):
        return reverse("doi:landing", kwargs={"prefix": self.prefix, "suffix": self.suffix})

    @property
    def prefix(self) -> str:
        return self.doi.partition("/")[0]

    @property
    def suffix(self) -> str:
        return self.doi.partition("/")[2]

    @property
    def is_public(self) -> bool:
        return self.state in (self.State.FINDABLE, self.State.WITHDRAWN)


class PublicationPerson(models.Model):
    """A creator (in the order the PI sets) or a contributor (local contact, instrument scientist)."""

    class Role(models.TextChoices):
        CREATOR = "creator"
        CONTRIBUTOR = "contributor"

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="people")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CREATOR)
    # DataCite's contributorType for contributors: ContactPerson, DataCollector, DataManager...
    contributor_type = models.CharField(max_length=32, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    given_name = models.CharField(max_length=200, blank=True)
    family_name = models.CharField(max_length=200)
    orcid = models.CharField("ORCID", max_length=19, blank=True)
    affiliation = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["role", "position", "id"]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        """'Family, Given' as DataCite and citations write it."""
        return f"{self.family_name}, {self.given_name}" if self.given_name else self.family_name
