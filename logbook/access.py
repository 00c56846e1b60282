"""Who reads and writes which logbook, as Q objects the selectors apply in SQL (catalogue.access's actors).

- an experiment's logbook: its participants, its instrument's scientists, the facility's admins and its
  instrument's API key; during the embargo and after it too. Released data do not make the logbook
  public (ESRF keeps it private to the experiment) unless settings.LOGBOOK_PUBLIC_AFTER_RELEASE, which
  then lets whoever reads the investigation (catalogue.access.investigation_q) read it, never write it;
- a beamline logbook: the instrument's scientists, the admins and the instrument's key;
- broadcasts: everyone reads them; they are written by the facility (admin, demo loader).
"""

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from catalogue.access import Actor, investigation_q, member_q
from catalogue.models import Instrument, InstrumentScientist, Investigation


def logbook_write_q(actor: Actor, prefix: str = "") -> Q:
    """Investigations whose logbook the actor writes (and reads): admins all, others their own."""
    return Q() if actor.is_admin else member_q(actor, prefix)


def logbook_read_q(actor: Actor, prefix: str = "") -> Q:
    """Investigations whose logbook the actor reads."""
    if settings.LOGBOOK_PUBLIC_AFTER_RELEASE:
        return investigation_q(actor, prefix)  # the members' and, once released, everybody's
    return logbook_write_q(actor, prefix)


def beamline_q(actor: Actor, prefix: str = "") -> Q:
    """Instruments (reached through prefix, e.g. "instrument__") whose beamline logbook the actor reads and writes."""
    if actor.is_admin:
        return Q()
    q = Q(pk__in=[])
    if actor.api_key is not None:
        q |= Q(**{f"{prefix}pk": actor.api_key.instrument_id})
    if actor.is_person:
        q |= Q(Exists(InstrumentScientist.objects.filter(user=actor.user, instrument_id=OuterRef(f"{prefix}pk"))))
    return q


def event_read_q(actor: Actor) -> Q:
    """Events the actor reads: of the experiment logbooks and beamline logbooks it reads, and broadcasts."""
    investigations = Investigation.objects.filter(logbook_read_q(actor)).values("pk")
    instruments = Instrument.objects.filter(beamline_q(actor)).values("pk")
    return (
        Q(investigation__in=investigations)
        | Q(investigation__isnull=True, instrument__in=instruments)
        | Q(investigation__isnull=True, instrument__isnull=True, type="broadcast")
    )


def can_write_investigation_logbook(actor: Actor, investigation: Investigation) -> bool:
    return Investigation.objects.filter(logbook_write_q(actor), pk=investigation.pk).exists()
