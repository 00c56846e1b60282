"""Writes of publications: keyword-only, typed `publication_<action>` functions, one transaction
each. A change that DataCite must know sets the outbox (`sync_pending`) in that transaction, and
the task that sends it is queued on commit (doi/tasks.py), so no HTTP call is made inside a
transaction and a DataCite outage never blocks or loses a change.
"""

import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from catalogue.access import Actor
from catalogue.dispatch import task_send
from catalogue.models import AuditEntry, DataCollection, Investigation, InvestigationUser, UserProfile
from catalogue.storage.selection import selection_datasets

from . import datacite
from .models import Publication, PublicationPerson
from .selectors import MINTERS, publication_facts

State = Publication.State
ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
RELATION_TYPES = {"IsCitedBy", "IsSupplementTo", "IsReferencedBy", "IsDocumentedBy", "IsDerivedFrom", "References"}
IDENTIFIER_TYPES = {"DOI", "URL", "PMID", "ARXIV", "Handle"}
SESSION_BATCH = 500


# --- Helpers -----------------------------------------------------------------------------------


def _new_doi() -> str:
    """prefix/XXXX-XXXX, DataCite's style of suffix: opaque, never reused."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    token = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{datacite.doi_prefix()}/{token[:4]}-{token[4:]}"


def _audit(actor: Actor, publication: Publication, action: str, summary: str, **details) -> None:
    AuditEntry.objects.create(
        actor=actor.user if actor.is_person else None,
        action=f"publication.{action}",
        target_type="publication",
        target_id=str(publication.pk),
        summary=summary[:500],
        details=details,
    )


def _queue_sync(publication: Publication) -> None:
    """Put the publication in the outbox; send it on commit (only when minting is on)."""
    if not datacite.minting_enabled():
        return
    publication.sync_pending = True
    publication.sync_sent = timezone.now()
    publication.sync_error = ""
    publication.save(update_fields=["sync_pending", "sync_sent", "sync_error", "modified"])
    pk = publication.pk
    transaction.on_commit(lambda: task_send("doi.tasks.sync_publication", pk))


def _check_metadata(publication: Publication) -> None:
    """Refuse, naming the fields, metadata DataCite's schema would refuse."""
    errors = datacite.validate(datacite.metadata(publication, publication_facts(publication), publication.people.all()))
    if errors:
        raise ValidationError({"metadata": errors})


def may_manage(actor: Actor, publication: Publication) -> bool:
    if actor.is_admin:
        return True
    if not actor.is_person:
        return False
    if publication.owner_id == actor.user.pk:
        return True
    return (
        publication.kind == Publication.Kind.SESSION
        and InvestigationUser.objects.filter(
            user=actor.user, investigation_id=publication.investigation_id, role__in=MINTERS
        ).exists()
    )


def _person_fields(user) -> dict:
    profile = UserProfile.objects.filter(user=user).first()
    return {
        "user": user,
        "given_name": user.first_name,
        "family_name": user.last_name or user.username,
        "orcid": profile.orcid if profile else "",
    }


def _add_people(publication: Publication, investigations: list[Investigation]) -> None:
    """Creators: the participants (PI first, then co-proposers, participants); contributors: the
    local contacts and the instrument scientists."""
    order = {InvestigationUser.Role.PRINCIPAL_INVESTIGATOR: 0, InvestigationUser.Role.CO_PROPOSER: 1}
    members = InvestigationUser.objects.filter(investigation__in=investigations).select_related("user")
    creators, contacts = {}, {}
    for member in sorted(members, key=lambda m: (order.get(m.role, 2), m.user.last_name, m.user.pk)):
        if member.role == InvestigationUser.Role.LOCAL_CONTACT:
            contacts.setdefault(member.user.pk, member.user)
        else:
            creators.setdefault(member.user.pk, member.user)
    if publication.owner_id and publication.owner_id not in creators:
        creators = {publication.owner_id: publication.owner} | creators
    rows = [
        PublicationPerson(publication=publication, role="creator", position=i, **_person_fields(user))
        for i, user in enumerate(creators.values())
    ]
    scientists = {
        s.user.pk: s.user
        for inv in investigations
        for s in inv.instrument.scientists.select_related("user")
        if s.user.pk not in contacts
    }
    for i, (user, kind) in enumerate(
        [(u, "ContactPerson") for u in contacts.values()] + [(u, "DataCollector") for u in scientists.values()]
    ):
        rows.append(
            PublicationPerson(
                publication=publication,
                role="contributor",
                contributor_type=kind,
                position=i,
                affiliation=settings.FACILITY_NAME,
                **_person_fields(user),
            )
        )
    PublicationPerson.objects.bulk_create(rows)


def clean_related_identifiers(values: list) -> list[dict]:
    cleaned = []
    for i, value in enumerate(values):
        if not isinstance(value, dict):
            raise ValidationError({"related_identifiers": f"item {i}: an object"})
        identifier = str(value.get("relatedIdentifier", "")).strip()
        kind = value.get("relatedIdentifierType", "DOI")
        relation = value.get("relationType", "IsCitedBy")
        if not identifier or len(identifier) > 500:
            raise ValidationError({"related_identifiers": f"item {i}: relatedIdentifier is required"})
        if kind not in IDENTIFIER_TYPES or relation not in RELATION_TYPES:
            raise ValidationError({"related_identifiers": f"item {i}: unknown type or relation"})
        cleaned.append({"relatedIdentifier": identifier, "relatedIdentifierType": kind, "relationType": relation})
    return cleaned


def clean_funding(values: list) -> list[dict]:
    cleaned = []
    for i, value in enumerate(values):
        if not isinstance(value, dict) or not str(value.get("funderName", "")).strip():
            raise ValidationError({"funding": f"item {i}: funderName is required"})
        entry = {"funderName": str(value["funderName"]).strip()[:300]}
        if value.get("awardNumber"):
            entry["awardNumber"] = str(value["awardNumber"]).strip()[:100]
        cleaned.append(entry)
    return cleaned


# --- Creating ----------------------------------------------------------------------------------


@transaction.atomic
def publication_create_session(
    *, actor: Actor, investigation: Investigation, title: str = "", abstract: str = ""
) -> Publication:
    """A draft session DOI for the investigation (its PI or co-proposer, or staff)."""
    allowed = actor.is_admin or (
        actor.is_person
        and InvestigationUser.objects.filter(user=actor.user, investigation=investigation, role__in=MINTERS).exists()
    )
    if not allowed:
        raise PermissionDenied("Only the session's principal investigator or staff mint its DOI.")
    if Publication.objects.filter(kind=Publication.Kind.SESSION, investigation=investigation).exists():
        raise ValidationError({"investigation": "This session already has a DOI."})
    publication = Publication.objects.create(
        kind=Publication.Kind.SESSION,
        doi=_new_doi(),
        investigation=investigation,
        owner=actor.user if actor.is_person and not actor.is_admin else None,
        title=(title or investigation.title or f"{investigation.name} {investigation.visit_id}")[:500],
        abstract=abstract or investigation.summary,
        licence=settings.DOI_LICENCE,
    )
    _add_people(publication, [investigation])
    _audit(actor, publication, "create", f"Session DOI {publication.doi} for {investigation}")
    return publication


@transaction.atomic
def publication_create_selection(*, actor: Actor, title: str, abstract: str = "") -> Publication:
    """A draft DOI for the datasets of the person's selection, copied into a collection of kind
    publication. Each dataset must come from a session the person leads (or the person is staff)."""
    if not actor.is_person:
        raise PermissionDenied("Sign in to mint a DOI.")
    title = (title or "").strip()
    if not title or len(title) > 500:
        raise ValidationError({"title": "A title of 1 to 500 characters is required."})
    datasets = dict(selection_datasets(actor).values_list("id", "investigation_id"))
    if not datasets:
        raise ValidationError({"selection": "Your selection is empty: add datasets first."})
    investigation_ids = set(datasets.values())
    if not actor.is_admin:
        led = set(
            InvestigationUser.objects.filter(
                user=actor.user, investigation_id__in=investigation_ids, role__in=MINTERS
            ).values_list("investigation_id", flat=True)
        )
        if led != investigation_ids:
            raise ValidationError({"selection": "Only datasets of sessions you lead can be published by you."})
    collection = DataCollection.objects.create(
        name=title, description=abstract, kind=DataCollection.Kind.PUBLICATION, owner=actor.user
    )
    collection.datasets.set(list(datasets))
    publication = Publication.objects.create(
        kind=Publication.Kind.SELECTION,
        doi=_new_doi(),
        collection=collection,
        owner=actor.user,
        title=title,
        abstract=abstract,
        licence=settings.DOI_LICENCE,
    )
    _add_people(publication, list(Investigation.objects.filter(pk__in=investigation_ids).select_related("instrument")))
    _audit(actor, publication, "create", f"Selection DOI {publication.doi} of {len(datasets)} datasets")
    return publication


# --- Editing and the lifecycle -----------------------------------------------------------------


@transaction.atomic
def publication_update(
    *,
    actor: Actor,
    publication: Publication,
    title: str,
    abstract: str,
    creator_order: list[int] | None = None,
    orcids: dict[int, str] | None = None,
    related_identifiers: list | None = None,
    funding: list | None = None,
) -> Publication:
    """Edit the metadata; creator_order lists the creators' ids in their new order. A publication
    DataCite holds is sent again."""
    publication = Publication.objects.select_for_update().get(pk=publication.pk)
    if not may_manage(actor, publication):
        raise PermissionDenied("Not your publication.")
    if publication.state == State.WITHDRAWN:
        raise ValidationError({"state": "A withdrawn publication cannot be edited."})
    title = (title or "").strip()
    if not title or len(title) > 500:
        raise ValidationError({"title": "A title of 1 to 500 characters is required."})
    creators = {p.pk: p for p in publication.people.filter(role="creator")}
    if creator_order is not None:
        if sorted(creator_order) != sorted(creators):
            raise ValidationError({"creator_order": "List every creator of this publication once."})
        for position, pk in enumerate(creator_order):
            creators[pk].position = position
    for pk, orcid in (orcids or {}).items():
        orcid = orcid.strip().upper()
        if pk not in creators or (orcid and not ORCID.match(orcid)):
            raise ValidationError({"orcid": f"Not an ORCID iD: {orcid[:40]!r} (0000-0002-1825-0097)."})
        creators[pk].orcid = orcid
    PublicationPerson.objects.bulk_update(creators.values(), ["position", "orcid"])
    publication.title, publication.abstract = title, abstract or ""
    if related_identifiers is not None:
        publication.related_identifiers = clean_related_identifiers(related_identifiers)
    if funding is not None:
        publication.funding = clean_funding(funding)
    publication.save()
    _audit(actor, publication, "update", f"Metadata of {publication.doi} edited")
    if publication.state != State.DRAFT:
        _check_metadata(publication)
        _queue_sync(publication)
    return publication


def _move(actor: Actor, publication: Publication, to: str, *, allowed_from: tuple, summary: str) -> Publication:
    publication = Publication.objects.select_for_update().get(pk=publication.pk)
    if publication.state not in allowed_from:
        raise ValidationError({"state": f"A {publication.state} publication cannot become {to}."})
    publication.state = to
    if to == State.FINDABLE:
        publication.published = timezone.now()
    publication.save()
    _check_metadata(publication)
    _audit(actor, publication, to, summary)
    _queue_sync(publication)
    return publication


@transaction.atomic
def publication_reserve(*, actor: Actor, publication: Publication) -> Publication:
    """Reserve the DOI: a draft at DataCite, citable in a paper under review."""
    if not may_manage(actor, publication):
        raise PermissionDenied("Not your publication.")
    return _move(actor, publication, State.RESERVED, allowed_from=(State.DRAFT,), summary=f"{publication.doi} reserved")


@transaction.atomic
def publication_publish(*, actor: Actor, publication: Publication) -> Publication:
    """Publish (findable); a selection goes to staff review first when DOI_REVIEW is set."""
    if not may_manage(actor, publication):
        raise PermissionDenied("Not your publication.")
    review = settings.DOI_REVIEW and publication.kind == Publication.Kind.SELECTION and not actor.is_admin
    to = State.REVIEW if review else State.FINDABLE
    return _move(actor, publication, to, allowed_from=(State.DRAFT, State.RESERVED), summary=f"{publication.doi} {to}")


@transaction.atomic
def publication_approve(*, actor: Actor, publication: Publication) -> Publication:
    if not actor.is_admin:
        raise PermissionDenied("Staff review publications.")
    return _move(
        actor, publication, State.FINDABLE, allowed_from=(State.REVIEW,), summary=f"{publication.doi} approved"
    )


@transaction.atomic
def publication_withdraw(*, actor: Actor, publication: Publication, reason: str) -> Publication:
    """Withdraw (staff): the DOI stays, hidden at DataCite, its landing page a tombstone."""
    if not actor.is_admin:
        raise PermissionDenied("Staff withdraw publications.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the publication is withdrawn."})
    publication = Publication.objects.select_for_update().get(pk=publication.pk)
    publication.withdrawn, publication.withdrawn_reason = timezone.now(), reason[:500]
    publication.save()
    return _move(
        actor,
        publication,
        State.WITHDRAWN,
        allowed_from=(State.FINDABLE, State.RESERVED, State.REVIEW),
        summary=f"{publication.doi} withdrawn",
    )


@transaction.atomic
def publication_mark_findable(*, publication: Publication) -> Publication:
    """Findable on the portal without DataCite (the demo, or minting off): no DOI is registered."""
    Publication.objects.filter(pk=publication.pk).update(
        state=State.FINDABLE, published=publication.published or timezone.now(), modified=timezone.now()
    )
    publication.refresh_from_db()
    return publication


def publications_release_sessions(*, now: datetime | None = None) -> int:
    """The beat's job: every released session gets its DOI published (created first if none).
    One transaction per session, so one bad session does not hold back the others."""
    now = now or timezone.now()
    due = (
        Investigation.objects.filter(release_date__lte=now)
        .exclude(publications__kind=Publication.Kind.SESSION, publications__state__in=(State.FINDABLE, State.WITHDRAWN))
        .select_related("instrument")
        .order_by("release_date", "pk")[:SESSION_BATCH]
    )
    system = Actor()
    done = 0
    for investigation in due:
        try:
            done += _release_session(system, investigation)
        except ValidationError:
            continue  # its metadata fail the schema: staff see it unpublished in the admin
    return done


@transaction.atomic
def _release_session(system: Actor, investigation: Investigation) -> int:
    publication = Publication.objects.filter(kind=Publication.Kind.SESSION, investigation=investigation).first()
    if publication is None:
        publication = Publication.objects.create(
            kind=Publication.Kind.SESSION,
            doi=_new_doi(),
            investigation=investigation,
            title=investigation.title or f"{investigation.name} {investigation.visit_id}",
            abstract=investigation.summary,
            licence=settings.DOI_LICENCE,
        )
        _add_people(publication, [investigation])
    _move(
        system,
        publication,
        State.FINDABLE,
        allowed_from=(State.DRAFT, State.RESERVED, State.REVIEW),
        summary=f"{publication.doi} published at the release date",
    )
    return 1


# --- Sending to DataCite (called by doi/tasks.py) ----------------------------------------------


def publication_sync(*, publication_id: int) -> str:
    """Send the publication's pending change to DataCite, outside any transaction. Returns what
    happened ("sent", "nothing", "invalid", "rejected"); raises DataCiteUnavailable to be retried."""
    with transaction.atomic():
        publication = Publication.objects.select_for_update().filter(pk=publication_id, sync_pending=True).first()
        if publication is None or not datacite.minting_enabled():
            return "nothing"
        wanted, event = datacite.EVENTS.get(publication.state, ("", None))
        if not wanted or (wanted == "registered" and publication.datacite_state in ("", "draft")):
            # A draft never made public stays a draft: a DOI is never deleted.
            Publication.objects.filter(pk=publication.pk).update(sync_pending=False)
            return "nothing"
        attributes = datacite.metadata(publication, publication_facts(publication), list(publication.people.all()))
        attributes["url"] = datacite.landing_url(publication)
        if event:
            attributes["event"] = event
        exists, version = bool(publication.datacite_state), publication.modified
        Publication.objects.filter(pk=publication.pk).update(
            sync_attempts=publication.sync_attempts + 1, sync_sent=timezone.now()
        )
    try:
        datacite.send(doi=publication.doi, attributes=attributes, exists=exists)
    except (datacite.MetadataInvalid, datacite.DataCiteRejected) as exc:
        message = "; ".join(exc.args[0]) if isinstance(exc.args[0], list) else str(exc.args[0])
        Publication.objects.filter(pk=publication_id).update(sync_pending=False, sync_error=message[:4000])
        return "invalid" if isinstance(exc, datacite.MetadataInvalid) else "rejected"
    except datacite.DataCiteUnavailable as exc:
        Publication.objects.filter(pk=publication_id).update(sync_error=str(exc)[:4000])
        raise
    # Done, unless it changed meanwhile (then its own task sends the newer version).
    Publication.objects.filter(pk=publication_id).update(datacite_state=wanted)
    Publication.objects.filter(pk=publication_id, modified=version).update(sync_pending=False, sync_error="")
    return "sent"


def publications_reconcile(*, grace_seconds: int = 600) -> list[int]:
    """Send again the publications still pending this long after their task was sent (a lost
    message, a worker that died, the retries of an outage spent). Returns their ids."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    ids = list(
        Publication.objects.filter(sync_pending=True, sync_sent__lt=cutoff).values_list("pk", flat=True)[:SESSION_BATCH]
    )
    Publication.objects.filter(pk__in=ids).update(sync_sent=timezone.now())
    for pk in ids:
        task_send("doi.tasks.sync_publication", pk)
    return ids
