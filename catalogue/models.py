"""The technique-agnostic catalogue (ICAT's dataset-oriented model)."""

import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from techniques.models import DatasetDefinition, ParameterType

from .routes import pk_url

# PostgreSQL's bigint, the type of ids, file sizes and offsets: the largest value a request may name.
BIGINT_MAX = 2**63 - 1


class Instrument(models.Model):
    class Validation(models.TextChoices):
        FACILITY_DEFAULT = "", "Facility default"
        STRICT = "strict", "Strict: reject datasets that break their definition"
        LENIENT = "lenient", "Lenient: store them and flag their warnings"

    name = models.CharField(max_length=64, unique=True, help_text="Short name, e.g. ID30A-1")
    full_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    validation = models.CharField(max_length=16, choices=Validation.choices, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Investigation(models.Model):
    """A proposal's session on an instrument: the unit of access and of the data policy."""

    name = models.CharField("proposal", max_length=64, help_text="Proposal name, e.g. MX-2485")
    visit_id = models.CharField(max_length=64, help_text="Session identifier within the proposal")
    title = models.CharField(max_length=500, blank=True)
    summary = models.TextField(blank=True)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="investigations")
    start_date = models.DateTimeField()
    end_date = models.DateTimeField()
    release_date = models.DateTimeField(help_text="From this date the investigation and its data are public.")
    doi = models.CharField("DOI", max_length=200, blank=True)
    data_folder = models.CharField(
        max_length=1024,
        blank=True,
        help_text="Where this session's data lie, inside a data root; empty: settings.DATA_FOLDER_PATTERN gives it.",
    )
    # When the participants were told that their data is about to become public.
    release_notice_sent = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "visit_id"], name="investigation_unique_visit"),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="investigation_end_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["instrument", "start_date"]),
            models.Index(fields=["-start_date", "-id"], name="investigation_recent"),
            models.Index(fields=["release_date"]),
        ]

    def __str__(self):
        return f"{self.name} {self.visit_id}"

    def save(self, *args, **kwargs):
        # One transaction with the move of its dataset rollups (new instrument or release month),
        # which catalogue/tallies.py makes on pre_save and post_save.
        with transaction.atomic(savepoint=False):
            super().save(*args, **kwargs)

    def get_absolute_url(self):
        return pk_url("investigation-detail", self.pk)


class InvestigationUser(models.Model):
    class Role(models.TextChoices):
        PRINCIPAL_INVESTIGATOR = "pi", "Principal investigator"
        CO_PROPOSER = "co_proposer", "Co-proposer"
        LOCAL_CONTACT = "local_contact", "Local contact"
        PARTICIPANT = "participant", "Participant"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="investigation_roles")
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.PARTICIPANT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["investigation", "user", "role"], name="investigation_user_unique_role")
        ]
        # The access policy looks up (user, investigation); the reverse lookup uses the constraint.
        indexes = [models.Index(fields=["user", "investigation"])]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}) in {self.investigation}"


class InstrumentScientist(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="instrument_roles")
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="scientists")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "instrument"], name="instrument_scientist_unique")]

    def __str__(self):
        return f"{self.user} on {self.instrument}"


class Sample(models.Model):
    investigation = models.ForeignKey(Investigation, on_delete=models.CASCADE, related_name="samples")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["investigation", "name"], name="sample_unique_name")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return pk_url("sample-detail", self.pk)


class Dataset(models.Model):
    class Kind(models.TextChoices):
        RAW = "raw"
        PROCESSED = "processed"

    class StorageStatus(models.TextChoices):
        ONLINE = "online"
        ARCHIVED = "archived"
        RESTORING = "restoring"

    # No index of their own on investigation, sample and definition: the dataset_by_* indexes below
    # lead with them, and every index is one more write per ingested dataset.
    investigation = models.ForeignKey(Investigation, on_delete=models.PROTECT, related_name="datasets", db_index=False)
    sample = models.ForeignKey(
        Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="datasets", db_index=False
    )
    name = models.CharField(max_length=255)
    # The folder is the dataset's identity: storing the same location again updates it.
    location = models.CharField(max_length=1024, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RAW)
    definition = models.ForeignKey(
        DatasetDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="datasets", db_index=False
    )
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True)
    # The whole validated set, values in the vocabulary's units; searchable copies in ParameterValue.
    parameters = models.JSONField(default=dict, blank=True)
    inputs = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="outputs")
    file_count = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0, help_text="Total size of the files in bytes")
    storage_status = models.CharField(max_length=16, choices=StorageStatus.choices, default=StorageStatus.ONLINE)
    # Restored data stays on disk until then, and is released back to the archive afterwards.
    online_until = models.DateTimeField(null=True, blank=True)
    complete = models.BooleanField(default=False, help_text="Set once the files are registered")
    # What lenient validation let through: [{"field": ..., "value": ..., "rule": ...}].
    warnings = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [
            models.Index(fields=["investigation", "-start_date", "-id"], name="dataset_by_investigation"),
            # The definitions used in an investigation (its table's filter), without reading its datasets.
            models.Index(fields=["investigation", "definition"], name="dataset_by_inv_definition"),
            models.Index(fields=["sample", "-start_date"], name="dataset_by_sample"),
            models.Index(fields=["definition", "-start_date"], name="dataset_by_definition"),
            models.Index(fields=["-start_date", "-id"], name="dataset_recent"),
            # The investigation of a dataset id without reading its row: a search's count probes one
            # per match to apply the access policy (with a hash of every match instead, 3x slower).
            models.Index(fields=["id", "investigation"], name="dataset_id_investigation"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # One transaction with its tally, which catalogue/tallies.py moves on pre_save and post_save.
        with transaction.atomic(savepoint=False):
            super().save(*args, **kwargs)

    def get_absolute_url(self):
        return pk_url("dataset-detail", self.pk)


class DatasetTally(models.Model):
    """How many datasets, and how many bytes of files, an investigation holds per definition and year
    of their start date (in settings.TIME_ZONE). catalogue/tallies.py keeps it exact on every save and
    delete of a dataset; the facet counts sum it over the investigations a reader may see, so that the
    access policy is applied to investigations rather than to every dataset, and an investigation's
    totals sum its few rows rather than its datasets."""

    # No index of its own: the key's unique index starts with it.
    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, db_index=False, related_name="dataset_tallies"
    )
    definition = models.ForeignKey(
        DatasetDefinition, null=True, blank=True, on_delete=models.CASCADE, related_name="dataset_tallies"
    )
    year = models.SmallIntegerField(null=True, blank=True, help_text="Of the start date; empty: no start date")
    datasets = models.IntegerField(default=0)
    size = models.BigIntegerField(default=0, help_text="Of those datasets' files, in bytes")

    class Meta:
        constraints = [
            # No definition and no start date are values of the key too: COALESCE makes two NULLs
            # collide, on SQLite and PostgreSQL alike (years and ids are never 0).
            models.UniqueConstraint(
                "investigation",
                Coalesce("definition", 0, output_field=models.BigIntegerField()),
                Coalesce("year", 0, output_field=models.SmallIntegerField()),
                name="dataset_tally_key",
            ),
        ]

    def __str__(self):
        return f"{self.investigation_id}/{self.definition_id}/{self.year}: {self.datasets}"


class DatasetRollup(models.Model):
    """The dataset tallies summed over the investigations of one instrument whose release date falls
    in the same month (in settings.TIME_ZONE): datasets and bytes per instrument, definition, start
    year and release month. catalogue/tallies.py keeps it exact with the tallies. Everything released
    before the current month is public, so the facet counts read these rows for it, a number that
    grows with instruments, definitions and months rather than with investigations, and the
    per-investigation tallies only for the investigations released this month and the reader's own
    embargoed ones (selectors.dataset_facets)."""

    # No index of its own: the key's unique index starts with it.
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, db_index=False, related_name="dataset_rollups")
    definition = models.ForeignKey(
        DatasetDefinition, null=True, blank=True, on_delete=models.CASCADE, related_name="dataset_rollups"
    )
    year = models.SmallIntegerField(null=True, blank=True, help_text="Of the start date; empty: no start date")
    release_month = models.DateField(help_text="The first day of the month of the investigations' release date")
    datasets = models.IntegerField(default=0)
    size = models.BigIntegerField(default=0, help_text="Of those datasets' files, in bytes")

    class Meta:
        constraints = [
            # As dataset_tally_key: COALESCE makes no definition and no start date collide.
            models.UniqueConstraint(
                "instrument",
                "release_month",
                Coalesce("definition", 0, output_field=models.BigIntegerField()),
                Coalesce("year", 0, output_field=models.SmallIntegerField()),
                name="dataset_rollup_key",
            ),
        ]

    def __str__(self):
        return f"{self.instrument_id}/{self.release_month:%Y-%m}/{self.definition_id}/{self.year}: {self.datasets}"


class ParameterValue(models.Model):
    """Narrow, typed copy of a dataset's parameters for range filters and facets."""

    # Indexed by the unique constraint (dataset first) and parameter_value_range (parameter type first).
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="parameter_values", db_index=False)
    parameter_type = models.ForeignKey(ParameterType, on_delete=models.PROTECT, related_name="values", db_index=False)
    numeric_value = models.FloatField(null=True, blank=True)
    text_value = models.CharField(max_length=1024, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "parameter_type"], name="parameter_value_unique")]
        indexes = [
            # With the dataset: a range search counts its matches from the index alone. Each index holds
            # only the rows of its kind (a range implies a number, a text value is never empty), so a
            # dataset of 60 numbers writes 60 entries here and none in the text index.
            models.Index(
                fields=["parameter_type", "numeric_value", "dataset"],
                name="parameter_value_range",
                condition=models.Q(numeric_value__isnull=False),
            ),
            models.Index(
                fields=["parameter_type", "text_value"], name="parameter_value_text", condition=~models.Q(text_value="")
            ),
        ]

    def __str__(self):
        return f"{self.parameter_type_id}={self.numeric_value if self.numeric_value is not None else self.text_value}"


# Files a browser shows: the only ones a definition names for its gallery and plots. The partial
# index on them finds a dataset's few images without reading its 100,000 other paths.
# One regex: six case-insensitive LIKEs cost 2 µs per inserted file, this 0.7 µs.
WEB_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
WEB_IMAGE = models.Q(path__iregex=r"\.(" + "|".join(e[1:] for e in WEB_IMAGE_EXTENSIONS) + ")$")


class Datafile(models.Model):
    # Indexed by datafile_unique_path, which leads with it.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="datafiles", db_index=False)
    # Relative to the dataset's location.
    path = models.CharField(max_length=1024)
    size = models.PositiveBigIntegerField(default=0)
    checksum = models.CharField(max_length=128, blank=True)
    modified = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["dataset", "path"], name="datafile_unique_path")]
        indexes = [models.Index(fields=["dataset", "path"], condition=WEB_IMAGE, name="datafile_web_image")]

    def __str__(self):
        return self.path


class PendingRegistration(models.Model):
    """A registration still to do: the outbox of the worker's file registration.

    Written in the store's transaction, deleted in the registration's: a message lost by the broker,
    or by a worker killed mid-task, loses nothing, and `reconcile_datasets` (also a beat task) sends
    it again. One row per store: two stores of the same location register both their lists.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    files = models.JSONField(null=True, blank=True, help_text="The file list given; null: scan the location")
    created = models.DateTimeField(auto_now_add=True)
    sent = models.DateTimeField(default=timezone.now, help_text="When its task was last sent to the worker")
    attempts = models.PositiveIntegerField(default=1, help_text="How many times its task was sent")

    def __str__(self):
        return f"registration of dataset {self.dataset_id}"


class DataCollection(models.Model):
    """A named set of datasets: a user's selection (one per user: what they download, restore and
    later publish from), or a publication's datasets."""

    class Kind(models.TextChoices):
        SELECTION = "selection"
        PUBLICATION = "publication"

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PUBLICATION)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="data_collections"
    )
    datasets = models.ManyToManyField(Dataset, related_name="collections", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(kind="selection"), name="data_collection_one_selection"
            )
        ]

    def __str__(self):
        return self.name


class StorageEvent(models.Model):
    """A change of a dataset's storage status: who (no one: the archiving schedule), when and why.
    Never edited; shown on the dataset's page."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="storage_events", db_index=False)
    time = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Dataset.StorageStatus.choices, help_text="The new status")
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["dataset", "-time"], name="storage_event_by_dataset")]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M} dataset {self.dataset_id} {self.status}: {self.reason}"


OPEN_STATES = ["queued", "running"]  # of a RestoreJob


class RestoreJob(models.Model):
    """The restore of one archived dataset from the archive ("tape") to main storage. Requests of
    several users for the same dataset share the open job (at most one per dataset); each requester
    is notified once it ends. Progress is counted as the files come back."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    OPEN = (State.QUEUED, State.RUNNING)

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="restore_jobs", db_index=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    requested = models.DateTimeField(default=timezone.now)
    heartbeat = models.DateTimeField(
        default=timezone.now, help_text="When its task was last sent, or last reported progress"
    )
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started")
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset"], condition=models.Q(state__in=OPEN_STATES), name="restore_job_one_open"
            )
        ]
        indexes = [
            models.Index(fields=["dataset", "-requested"], name="restore_job_by_dataset"),
            models.Index(
                fields=["state", "heartbeat"], name="restore_job_open", condition=models.Q(state__in=OPEN_STATES)
            ),
        ]

    def __str__(self):
        return f"restore of dataset {self.dataset_id} ({self.state})"


class RestoreRequest(models.Model):
    """One person's request of a restore job; notified (by e-mail, once) when it and the other jobs of
    its batch have ended."""

    job = models.ForeignKey(RestoreJob, on_delete=models.CASCADE, related_name="requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="restore_requests")
    # The requests made together (a selection, an investigation): one e-mail once all have ended.
    batch = models.UUIDField(default=uuid.uuid4)
    requested = models.DateTimeField(default=timezone.now)
    notified = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "user"], name="restore_request_unique")]
        indexes = [
            models.Index(fields=["user", "-requested"], name="restore_request_by_user"),
            models.Index(fields=["batch"], name="restore_request_by_batch"),
        ]

    def __str__(self):
        return f"{self.user} asked for {self.job}"


class PreparedDownload(models.Model):
    """IDS's prepared download: datasets named once (prepareData), polled by id (isPrepared: are
    they all online?), then fetched as one ZIP (getData). The id is a secret of its owner's."""

    id = models.CharField(primary_key=True, max_length=43, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    dataset_ids = models.JSONField(default=list)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"prepared download of {len(self.dataset_ids)} datasets"


class DownloadRecord(models.Model):
    """One download, for the facility's statistics: when, what, how many bytes, and who when signed
    in (anonymous downloads of open data are counted without any personal data: no address, no agent).
    Plain ids, not foreign keys: a record outlives its dataset, and deleting files writes no records."""

    class Kind(models.TextChoices):
        FILE = "file"
        DATASET = "dataset", "dataset (ZIP)"
        INVESTIGATION = "investigation", "investigation (ZIP)"
        SELECTION = "selection", "selection (ZIP)"

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FILE)
    dataset_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="Of a file or a dataset")
    investigation_id = models.PositiveBigIntegerField(null=True, blank=True)
    datasets = models.PositiveIntegerField(default=1, help_text="How many datasets the download held")
    datafile_id = models.PositiveBigIntegerField(null=True, blank=True)
    bytes = models.PositiveBigIntegerField(
        help_text="Bytes sent: the file's size, the range's length (206), or the files' sizes in a ZIP"
    )

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M} {self.kind} download of {self.datasets} dataset(s) ({self.bytes} bytes)"


class InstrumentApiKey(models.Model):
    """A key an instrument's acquisition software or pipeline uses to write to the catalogue.

    The secret is shown once at creation; only its SHA-256 digest is stored.
    """

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. 'MXCuBE on ID30A-1'")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "instrument API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class UserProfile(models.Model):
    """What the identity provider tells about a person beyond Django's user fields."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    orcid = models.CharField("ORCID", max_length=19, blank=True)

    def __str__(self):
        return f"{self.user} ({self.orcid or 'no ORCID'})"


class AuditEntry(models.Model):
    """A change to access: roles, instrument scientists, API keys, release dates. Never edited."""

    time = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, help_text="e.g. release_date.change, api_key.revoke")
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=500)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id", "-time"]), models.Index(fields=["-time"])]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M} {self.action} {self.summary}"
