"""The Django admin of publications: staff read them, fix their metadata and see DataCite's
answers; the lifecycle goes through the services (the portal's "manage" page)."""

from django.contrib import admin

from .models import Publication, PublicationPerson


class PublicationPersonInline(admin.TabularInline):
    model = PublicationPerson
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["doi", "title", "kind", "state", "datacite_state", "sync_pending", "created"]
    list_filter = ["kind", "state", "sync_pending"]
    search_fields = ["doi", "title"]
    raw_id_fields = ["investigation", "collection", "owner"]
    readonly_fields = ["state", "datacite_state", "sync_pending", "sync_sent", "sync_attempts", "sync_error"]
    inlines = [PublicationPersonInline]

    def has_delete_permission(self, request, obj=None):
        return False  # a DOI is never deleted: withdraw it
