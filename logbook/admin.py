"""The logbook in the Django admin: events read-only (content, versions; written through the services
only), tags editable."""

from django.contrib import admin

from .models import Attachment, Event, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color", "investigation", "instrument"]
    search_fields = ["name"]
    raw_id_fields = ["investigation", "instrument"]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ["name", "content_type", "size"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "type", "category", "investigation", "instrument", "author", "machine"]
    list_filter = ["type", "category", "is_latest", "removed"]
    search_fields = ["title", "text"]
    list_select_related = ["investigation", "instrument", "author"]
    inlines = [AttachmentInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
