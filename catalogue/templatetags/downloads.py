"""{% download_button %}: the Download (ZIP) button of a dataset or an investigation page, with the
facility's bulk-transfer text above settings.DOWNLOAD_BULK_THRESHOLD (a Jinja2 template, which the
investigation page's Jinja2 content includes itself); {% selection_button %}: "Add to selection" for
some datasets. Neither reads the database."""

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def bulk_text(size: int) -> str:
    """The facility's advice for downloads too big for one ZIP (size in bytes), else ''."""
    return settings.DOWNLOAD_BULK_TEXT if size > settings.DOWNLOAD_BULK_THRESHOLD else ""


@register.simple_tag
def download_button(url: str, size, status: str = "online") -> SafeString:
    """status: the dataset's storage status (an investigation's button leaves it "online": its
    archived datasets are named by the 409 page, with their Restore button). Rendered by Jinja2
    (templates/jinja2/catalogue/_download_button.html)."""
    button = get_template("catalogue/_download_button.html", using="jinja2")
    return mark_safe(button.render({"url": url, "size": int(size or 0), "status": status}))  # Jinja2 escaped it


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
