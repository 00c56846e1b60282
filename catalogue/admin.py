from django.contrib import admin, messages
from django.utils import timezone

from . import services
from .models import (
    DataCollection,
    Datafile,
    Dataset,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
    Sample,
)


class InstrumentScientistInline(admin.TabularInline):
    model = InstrumentScientist
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["name", "full_name"]
    search_fields = ["name", "full_name"]
    inlines = [InstrumentScientistInline]


class InvestigationUserInline(admin.TabularInline):
    model = InvestigationUser
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Investigation)
class InvestigationAdmin(admin.ModelAdmin):
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
            obj.release_date = services.default_release_date(obj.end_date)
        super().save_model(request, obj, form, change)


@admin.register(InvestigationUser)
class InvestigationUserAdmin(admin.ModelAdmin):
    list_display = ["user", "investigation", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__last_name", "investigation__name", "investigation__visit_id"]
    autocomplete_fields = ["user", "investigation"]
    list_select_related = ["user", "investigation"]


@admin.register(InstrumentScientist)
class InstrumentScientistAdmin(admin.ModelAdmin):
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


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "investigation", "sample", "kind", "definition", "start_date", "file_count", "complete"]
    list_filter = ["kind", "storage_status", "complete", "definition__technique", "investigation__instrument"]
    search_fields = ["name", "location", "investigation__name", "sample__name"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["investigation", "sample", "inputs"]
    readonly_fields = ["file_count", "size", "created", "modified"]
    list_select_related = ["investigation", "sample", "definition"]
    show_full_result_count = False


@admin.register(Datafile)
class DatafileAdmin(admin.ModelAdmin):
    list_display = ["path", "dataset", "size", "modified"]
    search_fields = ["path", "dataset__location"]
    raw_id_fields = ["dataset"]
    list_select_related = ["dataset"]
    show_full_result_count = False


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
        key, secret = services.api_key_create(instrument=obj.instrument, name=obj.name, expires=obj.expires)
        obj.pk, obj.prefix, obj.created = key.pk, key.prefix, key.created
        messages.warning(request, f"The key for {key.name}: {secret} — copy it now, it will not be shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked__isnull=True):
            services.api_key_revoke(key=key)
        self.message_user(request, f"Revoked at {timezone.now():%Y-%m-%d %H:%M}.")
