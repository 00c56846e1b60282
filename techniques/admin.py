from django.contrib import admin

from .models import DatasetDefinition, ParameterType, Technique


@admin.register(Technique)
class TechniqueAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "panet_id"]
    search_fields = ["code", "name", "panet_id"]


@admin.register(ParameterType)
class ParameterTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "unit", "value_type", "technique", "searchable"]
    list_filter = ["technique", "value_type", "searchable"]
    search_fields = ["name", "label", "description"]
    list_select_related = ["technique"]


@admin.register(DatasetDefinition)
class DatasetDefinitionAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "kind", "technique"]
    list_filter = ["technique", "kind"]
    search_fields = ["code", "label"]
    list_select_related = ["technique"]
