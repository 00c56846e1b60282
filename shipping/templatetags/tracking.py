"""Template tags the catalogue's pages load without importing shipping (catalogue never imports it):
``{% load tracking %}{% sample_tracking sample %}`` on a sample's page."""

from django import template

from catalogue.access import actor_for

from .. import selectors

register = template.Library()


@register.inclusion_tag("shipping/_sample_tracking.html", takes_context=True)
def sample_tracking(context, sample) -> dict:
    """The sample's parcels, its container and position in each, and their status histories, for
    the parcels the viewer may see; nothing when there are none (or no request to know the viewer)."""
    request = context.get("request")
    items = selectors.sample_tracking(actor_for(request), sample) if request is not None else []
    return {"items": items, "sample": sample}
