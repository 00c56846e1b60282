"""Who sees and moves parcels: the shipping roles and the status workflow, in one place.

Shipments are never public (a released investigation's parcels stay private): its participants,
the scientists of its instrument, the instrument's API key, the stores and safety staff (Django
groups named by settings.SHIPPING_STORES_GROUP and SHIPPING_SAFETY_GROUP) and facility admins see
them. Roles per investigation:

- user: a participant; prepares the parcels and sends them;
- local contact: the investigation's local contact or a scientist of its instrument; approves;
- safety: the safety group; approves;
- stores: the stores group; receives parcels, returns or destroys them;
- beamline: a scientist of the instrument or its API key; takes them to and from the beamline.

Facility admins hold every role.
"""

from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Exists, Q

from catalogue.access import Actor, member_q
from catalogue.models import InstrumentScientist, Investigation, InvestigationUser

from .models import Status


class Role(StrEnum):
    USER = "user"
    LOCAL_CONTACT = "local contact"
    SAFETY = "safety"
    STORES = "stores"
    BEAMLINE = "beamline"


# status -> {next status: the roles that may move a parcel there}.
TRANSITIONS: dict[str, dict[str, set[Role]]] = {
    Status.CREATED: {Status.READY: {Role.USER}},
    Status.READY: {Status.CREATED: {Role.USER}, Status.APPROVED: {Role.LOCAL_CONTACT, Role.SAFETY}},
    Status.APPROVED: {Status.SENT: {Role.USER}},
    Status.SENT: {Status.STORES: {Role.STORES}},
    Status.STORES: {
        Status.BEAMLINE: {Role.BEAMLINE},
        Status.BACK_USER: {Role.STORES},
        Status.DESTROYED: {Role.STORES},
    },
    Status.BEAMLINE: {Status.BACK_STORES: {Role.BEAMLINE}},
    Status.BACK_STORES: {
        Status.BEAMLINE: {Role.BEAMLINE},
        Status.BACK_USER: {Role.STORES},
        Status.DESTROYED: {Role.STORES},
    },
}
# Until sent, the investigation's users may change a parcel and its content.
EDITABLE = {Status.CREATED, Status.READY, Status.APPROVED}


def _in_group(actor: Actor, setting: str) -> bool:
    return actor.is_person and actor.user.groups.filter(name=getattr(settings, setting)).exists()


def is_stores(actor: Actor) -> bool:
    return actor.is_admin or _in_group(actor, "SHIPPING_STORES_GROUP")


def is_logistics(actor: Actor) -> bool:
    """Stores, safety and admins: every parcel of the facility (the stores page, statistics)."""
    return is_stores(actor) or _in_group(actor, "SHIPPING_SAFETY_GROUP")


def investigation_q(actor: Actor, prefix: str = "") -> Q:
    """Q selecting the investigations whose shipments the actor sees; prefix reaches them from a model."""
    if is_logistics(actor):
        return Q()
    return member_q(actor, prefix)


def investigation_q_in_sql(actor: Actor, prefix: str = "") -> Q:
    """investigation_q with the stores and safety groups checked inside the same SQL: no query of its
    own, for what other apps' pages show (the sample page's parcels)."""
    if actor.is_admin:
        return Q()
    if not actor.is_person:
        return investigation_q(actor, prefix)  # an instrument key: no group to look up
    names = [settings.SHIPPING_STORES_GROUP, settings.SHIPPING_SAFETY_GROUP]
    return Q(Exists(Group.objects.filter(user=actor.user, name__in=names))) | member_q(actor, prefix)


def roles(actor: Actor, investigation: Investigation) -> set[Role]:
    if actor.is_admin:
        return set(Role)
    if actor.api_key is not None:
        return {Role.BEAMLINE} if actor.api_key.instrument_id == investigation.instrument_id else set()
    if not actor.is_person:
        return set()
    found = set()
    member_roles = set(
        InvestigationUser.objects.filter(user=actor.user, investigation=investigation).values_list("role", flat=True)
    )
    if member_roles:
        found.add(Role.USER)
    scientist = InstrumentScientist.objects.filter(user=actor.user, instrument_id=investigation.instrument_id).exists()
    if scientist or InvestigationUser.Role.LOCAL_CONTACT in member_roles:
        found.add(Role.LOCAL_CONTACT)
    if scientist:
        found.add(Role.BEAMLINE)
    if _in_group(actor, "SHIPPING_STORES_GROUP"):
        found.add(Role.STORES)
    if _in_group(actor, "SHIPPING_SAFETY_GROUP"):
        found.add(Role.SAFETY)
    return found


def next_statuses(status: str, held: set[Role]) -> list[str]:
    """The statuses these roles may move a parcel in this status to, in the workflow's order."""
    return [target for target, allowed in TRANSITIONS.get(status, {}).items() if allowed & held]


def can_edit(status: str, held: set[Role]) -> bool:
    return Role.USER in held and status in EDITABLE
