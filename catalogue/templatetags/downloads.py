"""{% download_button %}: the Download (ZIP) button of a dataset or an investigation page, with the
facility's bulk-transfer text above settings.DOWNLOAD_BULK_THRESHOLD; {% selection_button %}: "Add
to selection" for some datasets. Neither reads the database."""

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("catalogue/_download_button.html")
def download_button(url: str, size, status: str = "online") -> dict:
    """status: the dataset's storage status (an investigation's button leaves it "online": its
    archived datasets are named by the 409 page, with their Restore button)."""
    size, online = int(size or 0), status == "online"
    bulk = settings.DOWNLOAD_BULK_TEXT if size > settings.DOWNLOAD_BULK_THRESHOLD else ""
    return {"url": url, "size": size, "online": online, "bulk_text": bulk}


@register.inclusion_tag("catalogue/_selection_button.html", takes_context=True)
def selection_button(context, datasets, label: str = "") -> dict:
    """datasets: one dataset, or several (a page of a table, a search's results)."""
    items = [datasets] if hasattr(datasets, "pk") else list(datasets)
    return {
        "ids": [item.pk for item in items],
        "label": label,
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
