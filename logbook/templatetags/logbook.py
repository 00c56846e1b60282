"""`{% load logbook %}{% logbook_broadcasts %}`: a placeholder that loads the facility's latest broadcasts
(logbook:broadcasts) once the page is shown, so that catalogue's home page neither imports this app nor
pays a query for them."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def logbook_broadcasts():
    return format_html(
        '<div class="logbook-broadcasts" hx-get="{}" hx-trigger="load" hx-swap="outerHTML"></div>',
        reverse("logbook:broadcasts"),
    )
