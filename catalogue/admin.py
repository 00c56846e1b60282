from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils import timezone

from catalogue.people.services import (
    api_key_create,
    api_key_revoke,
    audit_record,
    instrument_scientist_add,
    instrument_scientist_remove,
    investigation_user_add,
    investigation_user_remove,
)
from catalogue.policy.services import default_release_date, investigation_release_date_change
from catalogue.storage.services import datasets_archive_request, restore_request

from . import locations
from .models import (
    AuditEntry,
    DataCollection,
    Datafile,
    Dataset,
    DownloadRecord,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    RestoreJob,
    Sample,
    StorageEvent,
    UserProfile,
)

# --- Access changes go through the services, which write the audit log ----------------------------


def _role_save(actor, obj: InvestigationUser | InstrumentScientist) -> None:
    """Add a role; an edited one is removed and added again, so both show in the audit log."""
    if obj.pk is not None:
        _role_delete(actor, type(obj).objects.select_related("user").get(pk=obj.pk))
    if isinstance(obj, InvestigationUser):
        saved = investigation_user_add(investigation=obj.investigation, user=obj.user, role=obj.role, actor=actor)
    else:
        saved = instrument_scientist_add(instrument=obj.instrument, user=obj.user, actor=actor)
    obj.pk = saved.pk


def _role_delete(actor, obj: InvestigationUser | InstrumentScientist) -> None:
    if isinstance(obj, InvestigationUser):
        investigation_user_remove(member=obj, actor=actor)
    else:
        instrument_scientist_remove(scientist=obj, actor=actor)


class AuditedRolesMixin:
    """For admins of roles and of models with role inlines."""

    def save_formset(self, request, form, formset, change):
        if formset.model not in (InvestigationUser, InstrumentScientist):
            return super().save_formset(request, form, formset, change)
        for obj in formset.save(commit=False):
            _role_save(request.user, obj)
        for obj in formset.deleted_objects:
            _role_delete(request.user, obj)

    def save_model(self, request, obj, form, change):
        if isinstance(obj, InvestigationUser | InstrumentScientist):
            _role_save(request.user, obj)
        else:
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        if isinstance(obj, InvestigationUser | InstrumentScientist):
            _role_delete(request.user, obj)
        else:
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        if queryset.model in (InvestigationUser, InstrumentScientist):
            for obj in queryset.select_related("user"):
                _role_delete(request.user, obj)
        else:
            super().delete_queryset(request, queryset)


class InstrumentScientistInline(admin.TabularInline):
    model = InstrumentScientist
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Instrument)
class InstrumentAdmin(AuditedRolesMixin, admin.ModelAdmin):
    list_display = ["name", "full_name"]
    search_fields = ["name", "full_name"]
    inlines = [InstrumentScientistInline]


class InvestigationUserInline(admin.TabularInline):
    model = InvestigationUser
    autocomplete_fields = ["user"]
    extra = 0


class InvestigationAdminForm(forms.ModelForm):
    release_date_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the release date changes: required when it does, recorded in the audit log.",
    )

    class Meta:
        model = Investigation
        fields = [
            "name",
            "visit_id",
            "title",
            "summary",
            "instrument",
            "start_date",
            "end_date",
            "release_date",
            "doi",
            "data_folder",
        ]

    def clean_data_folder(self):
        folder = self.cleaned_data["data_folder"].strip()
        if not folder:
            return ""
        try:
            folder = locations.normalise_location(folder)
        except locations.PathRefused as exc:
            raise forms.ValidationError(f"The folder {exc}.") from None
        if not locations.inside_data_roots(folder):
            raise forms.ValidationError("The folder must lie inside a data root (settings.DATA_ROOTS).")
        return folder

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and "release_date" in self.changed_data and not cleaned.get("release_date_reason"):
            self.add_error("release_date_reason", "Give the reason for the new release date.")
        return cleaned


@admin.register(Investigation)
class InvestigationAdmin(AuditedRolesMixin, admin.ModelAdmin):
    form = InvestigationAdminForm
    list_display = ["name", "visit_id", "instrument", "start_date", "end_date", "release_date", "doi"]
    list_filter = ["instrument", "start_date", "release_date"]
    search_fields = ["name", "visit_id", "title", "doi"]
    date_hierarchy = "start_date"
    list_select_related = ["instrument"]
    inlines = [InvestigationUserInline]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["release_date"].required = False
        form.base_fields["release_date"].help_text += " Left empty: the end date plus the embargo period."
        return form

    def save_model(self, request, obj, form, change):
        if obj.release_date is None:
            obj.release_date = default_release_date(obj.end_date)
        if not (change and "release_date" in form.changed_data):
            return super().save_model(request, obj, form, change)
        # The other fields save as usual; the new release date goes through the audited service.
        release_date = obj.release_date
        obj.release_date = Investigation.objects.values_list("release_date", flat=True).get(pk=obj.pk)
        super().save_model(request, obj, form, change)
        investigation_release_date_change(
            investigation=obj,
            release_date=release_date,
            actor=request.user,
            reason=form.cleaned_data["release_date_reason"],
        )
        obj.release_date = release_date


@admin.register(InvestigationUser)
class InvestigationUserAdmin(AuditedRolesMixin, admin.ModelAdmin):
    list_display = ["user", "investigation", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__last_name", "investigation__name", "investigation__visit_id"]
    autocomplete_fields = ["user", "investigation"]
    list_select_related = ["user", "investigation"]


@admin.register(InstrumentScientist)
class InstrumentScientistAdmin(AuditedRolesMixin, admin.ModelAdmin):
    list_display = ["user", "instrument"]
    list_filter = ["instrument"]
    search_fields = ["user__username", "user__last_name"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "instrument"]


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = ["name", "investigation"]
    search_fields = ["name", "investigation__name"]
    list_filter = ["investigation__instrument"]
    autocomplete_fields = ["investigation"]
    list_select_related = ["investigation"]


class StorageEventInline(admin.TabularInline):
    """A dataset's storage history: read-only, written by catalogue/storage only."""

    model = StorageEvent
    fields = ["time", "status", "reason", "actor"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-time"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "investigation", "sample", "kind", "definition", "start_date", "file_count"]
    list_display += ["storage_status"]
    list_filter = ["kind", "storage_status", "complete", "definition__technique", "investigation__instrument"]
    search_fields = ["name", "location", "investigation__name", "sample__name"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["investigation", "sample", "inputs"]
    # The storage status changes through the archive and restore only (catalogue/storage), each change in its history.
    readonly_fields = ["file_count", "size", "storage_status", "online_until", "created", "modified"]
    list_select_related = ["investigation", "sample", "definition"]
    show_full_result_count = False
    inlines = [StorageEventInline]
    actions = ["archive_now", "restore_now"]

    @admin.action(description="Archive the selected datasets now (copy, verify, free the disk)")
    def archive_now(self, request, queryset):
        queued = datasets_archive_request(
            dataset_ids=list(queryset.values_list("pk", flat=True)),
            reason=f"Archived from the admin by {request.user.get_username()}",
            actor=request.user,
        )
        self.message_user(request, f"{queued} dataset(s) queued for archiving (only complete datasets on disk are).")

    @admin.action(description="Restore the selected datasets from the archive")
    def restore_now(self, request, queryset):
        summary = restore_request(user=request.user, datasets=queryset)
        self.message_user(request, summary.message)


@admin.register(Datafile)
class DatafileAdmin(admin.ModelAdmin):
    list_display = ["path", "dataset", "size", "modified"]
    search_fields = ["path", "dataset__location"]
    raw_id_fields = ["dataset"]
    list_select_related = ["dataset"]
    show_full_result_count = False


@admin.register(RestoreJob)
class RestoreJobAdmin(admin.ModelAdmin):
    """The restores: queued, running (with progress), done or failed (with the archive's error)."""

    list_display = ["dataset", "state", "requested", "started", "finished", "files_done", "files_total", "attempts"]
    list_filter = ["state", "requested"]
    search_fields = ["dataset__name", "dataset__location"]
    list_select_related = ["dataset"]
    raw_id_fields = ["dataset"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DataCollection)
class DataCollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]
    autocomplete_fields = ["datasets"]


@admin.register(InstrumentApiKey)
class InstrumentApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here; the secret is shown once, in the confirmation message."""

    list_display = ["name", "instrument", "prefix", "created", "expires", "revoked", "last_used"]
    list_filter = ["instrument", "revoked"]
    search_fields = ["name", "prefix"]
    fields = ["instrument", "name", "expires", "prefix", "created", "revoked", "last_used"]
    readonly_fields = ["prefix", "created", "revoked", "last_used"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, secret = api_key_create(instrument=obj.instrument, name=obj.name, expires=obj.expires, actor=request.user)
        obj.pk, obj.prefix, obj.created = key.pk, key.prefix, key.created
        messages.warning(request, f"The key for {key.name}: {secret} — copy it now, it will not be shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked__isnull=True):
            api_key_revoke(key=key, actor=request.user)
        self.message_user(request, f"Revoked at {timezone.now():%Y-%m-%d %H:%M}.")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key and its audit trail stay


# --- Users and the audit log -----------------------------------------------------------------


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False


class UserInvestigationInline(admin.TabularInline):
    model = InvestigationUser
    autocomplete_fields = ["investigation"]
    extra = 0
    verbose_name_plural = "investigation roles"


class UserInstrumentInline(admin.TabularInline):
    model = InstrumentScientist
    extra = 0
    verbose_name_plural = "instrument scientist of"


# The admin carries the facility's name, and its "View portal" link (templates/admin/base_site.html)
# leads back to the portal.
admin.site.site_header = f"{settings.FACILITY_NAME} · catalogue admin"
admin.site.site_title = f"{settings.FACILITY_NAME} admin"
admin.site.index_title = "Data catalogue administration"
admin.site.site_url = "/"

admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class CatalogueUserAdmin(AuditedRolesMixin, UserAdmin):
    """Django's user admin, with the person's roles; a change of admin rights is audited."""

    inlines = [UserProfileInline, UserInstrumentInline, UserInvestigationInline]
    ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = {name: getattr(obj, name) for name in self.ACCESS_FIELDS if name in form.changed_data}
        if change and changed:
            audit_record(
                actor=request.user,
                action="user.access.change",
                target=obj,
                summary=f"{obj}: " + ", ".join(f"{name}={value}" for name, value in changed.items()),
                details=changed,
            )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The log of every change to access. Read-only: nobody adds, edits or deletes entries."""

    list_display = ["time", "actor", "action", "summary", "reason"]
    list_filter = ["action", "time"]
    search_fields = ["summary", "reason", "target_id", "actor__username"]
    date_hierarchy = "time"
    list_select_related = ["actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DownloadRecord)
class DownloadRecordAdmin(admin.ModelAdmin):
    """The downloads, for the facility's statistics. Read-only: written by the downloads only."""

    list_display = ["time", "kind", "user", "dataset_id", "datafile_id", "bytes"]
    list_filter = ["kind", "time"]
    search_fields = ["user__username"]
    date_hierarchy = "time"
    list_select_related = ["user"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
