"""The access policy, in one place. Applied in SQL by the selectors.

- anonymous: public investigations (past their release date) and their data;
- participant: also their own investigations;
- instrument scientist: also every investigation on their instruments;
- facility admin (staff): everything;
- an instrument API key reads like a scientist of its instrument and writes only there.
"""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import InstrumentApiKey, InstrumentScientist, Investigation, InvestigationUser


@dataclass(frozen=True)
class Actor:
    """Who is asking: a person (maybe anonymous) or an instrument key."""

    user: object = None
    api_key: InstrumentApiKey | None = None

    @property
    def is_admin(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated and self.user.is_staff)

    @property
    def is_person(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)


def actor_for(request) -> Actor:
    api_key = request.auth if isinstance(getattr(request, "auth", None), InstrumentApiKey) else None
    return Actor(user=getattr(request, "user", None), api_key=api_key)


def investigation_q(actor: Actor, prefix: str = "") -> Q:
    """Q selecting the investigations the actor may read; prefix reaches them from another model."""
    if actor.is_admin:
        return Q()
    return Q(**{f"{prefix}release_date__lte": timezone.now()}) | member_q(actor, prefix)


def member_q(actor: Actor, prefix: str = "") -> Q:
    """Q selecting the investigations the actor belongs to, whatever their release date: its
    instrument's (an instrument key), those the person takes part in, those of the instruments the
    person is a scientist of. Admins are not members: callers decide what admins may do."""
    q = Q(pk__in=[])
    if actor.api_key is not None:
        q |= Q(**{f"{prefix}instrument_id": actor.api_key.instrument_id})
    if actor.is_person:
        # "investigation__" -> OuterRef("investigation_id"); no prefix -> the investigation itself.
        investigation_id = OuterRef(f"{prefix[:-2]}_id" if prefix else "pk")
        q |= Q(Exists(InvestigationUser.objects.filter(user=actor.user, investigation_id=investigation_id)))
        q |= Q(
            Exists(
                InstrumentScientist.objects.filter(user=actor.user, instrument_id=OuterRef(f"{prefix}instrument_id"))
            )
        )
    return q


def member_investigation_ids(actor: Actor) -> QuerySet | None:
    """The ids of the investigations member_q selects, looked up from the actor's side (the key's
    instrument, the person's roles and instruments) rather than tested on every investigation: for a
    read of only these, by index, e.g. the tallies of the actor's embargoed investigations. None for
    an actor who belongs to none."""
    parts = []
    if actor.api_key is not None:
        parts.append(Investigation.objects.filter(instrument_id=actor.api_key.instrument_id).values("pk"))
    if actor.is_person:
        parts.append(InvestigationUser.objects.filter(user=actor.user).values("investigation_id"))
        instruments = InstrumentScientist.objects.filter(user=actor.user).values("instrument_id")
        parts.append(Investigation.objects.filter(instrument_id__in=instruments).values("pk"))
    if not parts:
        return None
    # No ordering: SQLite refuses one inside a UNION.
    return parts[0].order_by().union(*(part.order_by() for part in parts[1:]))


def can_write_investigation(actor: Actor, investigation: Investigation) -> bool:
    """Ingestion: a key writes on its instrument; staff everywhere; scientists on their instruments."""
    if actor.api_key is not None:
        return investigation.instrument_id == actor.api_key.instrument_id
    if actor.is_admin:
        return True
    if actor.is_person:
        return InstrumentScientist.objects.filter(user=actor.user, instrument_id=investigation.instrument_id).exists()
    return False


def can_ingest(actor: Actor) -> bool:
    """Whether the actor may call the ingestion API at all."""
    return actor.api_key is not None or is_beamline_staff(actor)


def is_beamline_staff(actor: Actor) -> bool:
    """Facility admins and instrument scientists: the staff views (embargoed data, beamline pages)."""
    return actor.is_admin or (actor.is_person and InstrumentScientist.objects.filter(user=actor.user).exists())


def can_change_release_date(actor: Actor) -> bool:
    """Moving an embargo is the facility's decision: admins only."""
    return actor.is_admin


def can_archive(actor: Actor, instrument_id: int) -> bool:
    """Archiving data now, ahead of the schedule: admins, and the instrument's scientists."""
    if actor.is_admin:
        return True
    return actor.is_person and InstrumentScientist.objects.filter(user=actor.user, instrument_id=instrument_id).exists()
