"""The selection: the datasets a person sets aside to download, restore (and later publish or
reprocess) together. It is their DataCollection of kind "selection" (one per user, a constraint),
created on the first addition.

Services (keyword-only, one transaction each) add only datasets the user may read (the access policy,
through catalogue.selectors); the selector lists those of the selection the user may still read, so
that a dataset whose access was withdrawn drops out. The selection's size is also kept in the
session ("selection_count", set at sign-in and by every change made there), so that the navigation
bar shows it without a query on every page; a change made elsewhere (the API, another browser) shows
there at the next change or visit of the selection page.
"""

from collections.abc import Iterable

from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.dispatch import receiver

from catalogue import selectors
from catalogue.access import Actor
from catalogue.models import DataCollection, Dataset

SESSION_KEY = "selection_count"
Membership = DataCollection.datasets.through


def _selection(user, *, create: bool) -> DataCollection | None:
    found = DataCollection.objects.filter(kind=DataCollection.Kind.SELECTION, owner=user).first()
    if found is not None or not create:
        return found
    try:
        with transaction.atomic():
            return DataCollection.objects.create(
                kind=DataCollection.Kind.SELECTION, owner=user, name=f"Selection of {user.get_username()}"
            )
    except IntegrityError:  # created meanwhile by another request of theirs
        return DataCollection.objects.get(kind=DataCollection.Kind.SELECTION, owner=user)


def _in_selection(user) -> Exists:
    return Exists(
        Membership.objects.filter(
            datacollection__kind=DataCollection.Kind.SELECTION, datacollection__owner=user, dataset_id=OuterRef("pk")
        )
    )


def selection_list(actor: Actor) -> QuerySet[Dataset]:
    """The datasets of the person's selection that they may read, as the dataset tables show them
    (one query a page). Empty for anonymous visitors and instrument keys."""
    if not actor.is_person:
        return Dataset.objects.none()
    fields = [*selectors.DATASET_FIELDS, *selectors.API_RELATED_FIELDS, "definition__label"]
    return (
        selectors.dataset_list(actor, portal=False)
        .filter(_in_selection(actor.user))
        .only(*fields)
        .order_by("-start_date", "-id")
    )


def selection_datasets(actor: Actor) -> QuerySet[Dataset]:
    """The same datasets, without the table's columns: what a ZIP or a restore of the selection reads."""
    if not actor.is_person:
        return Dataset.objects.none()
    return selectors.dataset_list(actor, portal=False).filter(_in_selection(actor.user))


def selection_totals(actor: Actor) -> dict[str, int]:
    """{"datasets": how many, "size": their bytes, "online": how many are on disk}; one query."""
    online = Q(storage_status=Dataset.StorageStatus.ONLINE)
    totals = (
        selection_datasets(actor)
        .order_by()
        .aggregate(datasets=Count("id"), size=Sum("size"), online=Count("id", filter=online))
    )
    return {key: value or 0 for key, value in totals.items()}


def selection_count(user) -> int:
    """How many datasets the user's selection holds (readable or not any more); one query."""
    return Membership.objects.filter(
        datacollection__kind=DataCollection.Kind.SELECTION, datacollection__owner=user
    ).count()


def _readable(user, dataset_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(pk) for pk in dataset_ids})
    if not ids:
        return []
    return list(selectors.dataset_list(Actor(user=user), portal=False).filter(pk__in=ids).values_list("pk", flat=True))


def selection_add(*, user, dataset_ids: Iterable[int]) -> int:
    """Add the datasets the user may read (the others are ignored, as if missing); returns how many
    were new in the selection. Its count after the change is returned by selection_count."""
    with transaction.atomic():
        readable = _readable(user, dataset_ids)
        if not readable:
            return 0
        selection = _selection(user, create=True)
        before = Membership.objects.filter(datacollection=selection).count()
        Membership.objects.bulk_create(
            [Membership(datacollection=selection, dataset_id=pk) for pk in readable], ignore_conflicts=True
        )
        return Membership.objects.filter(datacollection=selection).count() - before


def selection_remove(*, user, dataset_ids: Iterable[int]) -> int:
    """Take the datasets out of the user's selection; returns how many were in it."""
    ids = {int(pk) for pk in dataset_ids}
    with transaction.atomic():
        selection = _selection(user, create=False)
        if selection is None or not ids:
            return 0
        removed, _ = Membership.objects.filter(datacollection=selection, dataset_id__in=ids).delete()
        return removed


def selection_clear(*, user) -> int:
    """Empty the user's selection; returns how many datasets it held."""
    with transaction.atomic():
        selection = _selection(user, create=False)
        if selection is None:
            return 0
        removed, _ = Membership.objects.filter(datacollection=selection).delete()
        return removed


def remember_count(request, count: int | None = None) -> None:
    """Keep the selection's size in the session for the navigation bar."""
    count = selection_count(request.user) if count is None else count
    if request.session.get(SESSION_KEY) != count:  # no session write when nothing changed
        request.session[SESSION_KEY] = count


@receiver(user_logged_in, dispatch_uid="catalogue.storage.selection.count_at_sign_in")
def _count_at_sign_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = selection_count(user)
