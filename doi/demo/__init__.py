"""The demo's publications: a data file (publications.yaml) and the loader that makes them through
the services (doi/services.py), after the catalogue's demo (catalogue/demo) is loaded.

With DataCite unset (the demo's default), minting is off: the session DOI is a local one (under
DOI_LOCAL_PREFIX) marked findable on the portal by publication_mark_findable, and nothing is sent.
With DataCite set, the session DOI is published and the selection's reserved through it.
"""

from pathlib import Path

import yaml
from django.contrib.auth import get_user_model

from catalogue.access import Actor
from catalogue.models import Dataset, Investigation
from catalogue.storage.selection import selection_add, selection_clear

from .. import datacite, services
from ..models import Publication

DATA = Path(__file__).parent / "publications.yaml"


def load() -> list[str]:
    """Idempotent: what exists already is left alone. Returns what was made."""
    spec = yaml.safe_load(DATA.read_text())
    made = []
    session = spec["session"]
    investigation = Investigation.objects.filter(name=session["proposal"], visit_id=session["visit_id"]).first()
    if investigation is None:
        return made  # the catalogue's demo is not loaded
    staff = Actor(user=get_user_model().objects.filter(is_staff=True).order_by("pk").first())
    if not Publication.objects.filter(investigation=investigation).exists():
        publication = services.publication_create_session(actor=staff, investigation=investigation)
        services.publication_update(
            actor=staff,
            publication=publication,
            title=publication.title,
            abstract=publication.abstract,
            related_identifiers=session["related_identifiers"],
            funding=session["funding"],
        )
        if datacite.minting_enabled():
            services.publication_publish(actor=staff, publication=publication)
        else:
            services.publication_mark_findable(publication=publication)
        made.append(f"session DOI {publication.doi} (findable)")
    selection = spec["selection"]
    owner = get_user_model().objects.filter(username=selection["owner"]).first()
    if owner is not None and not Publication.objects.filter(owner=owner, kind=Publication.Kind.SELECTION).exists():
        actor = Actor(user=owner)
        datasets = Dataset.objects.filter(investigation=investigation, storage_status=Dataset.StorageStatus.ONLINE)
        ids = list(datasets.order_by("start_date", "pk").values_list("pk", flat=True)[: selection["datasets"]])
        selection_clear(user=owner)
        selection_add(user=owner, dataset_ids=ids)
        publication = services.publication_create_selection(
            actor=actor, title=selection["title"], abstract=selection["abstract"]
        )
        services.publication_reserve(actor=actor, publication=publication)
        selection_clear(user=owner)
        made.append(f"selection DOI {publication.doi} of {selection['owner']} (reserved)")
    return made
