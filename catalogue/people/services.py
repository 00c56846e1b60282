"""People and their access: instrument API keys, investigation members, instrument scientists,
and the audit log every such change writes. Each function owns its transaction."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from catalogue.models import (
    AuditEntry,
    Instrument,
    InstrumentApiKey,
    InstrumentScientist,
    Investigation,
    InvestigationUser,
)


def _digest(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 suffices (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *, instrument, name: str, expires: datetime | None = None, actor=None
) -> tuple[InstrumentApiKey, str]:
    """Create a key and return it with its secret, which is never stored nor shown again."""
    prefix = secrets.token_hex(4)
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = InstrumentApiKey.objects.create(
            instrument=instrument, name=name, prefix=prefix, digest=_digest(secret), expires=expires
        )
        audit_record(
            actor=actor,
            action="api_key.create",
            target=key,
            summary=f"API key {key} created for {instrument}",
            details={"instrument": instrument.name, "expires": expires.isoformat() if expires else None},
        )
    return key, secret


# InstrumentApiKey.last_used is kept to this precision: a key that stores a dataset every few
# milliseconds would otherwise write (and commit) its row on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


def api_key_authenticate(*, secret: str) -> InstrumentApiKey | None:
    prefix = secret.split(".", 1)[0]
    try:  # on every API request: get() builds no ORDER BY; the instrument's row is not needed
        key = InstrumentApiKey.objects.get(prefix=prefix)
    except InstrumentApiKey.DoesNotExist:
        return None
    if not secrets.compare_digest(key.digest, _digest(secret)):
        return None
    now = timezone.now()
    if key.revoked or (key.expires and key.expires <= now):
        return None
    if key.last_used is None or now - key.last_used >= LAST_USED_PRECISION:
        InstrumentApiKey.objects.filter(pk=key.pk).update(last_used=now)
    return key


def api_key_revoke(*, key: InstrumentApiKey, actor=None) -> None:
    with transaction.atomic():
        if InstrumentApiKey.objects.filter(pk=key.pk, revoked__isnull=True).update(revoked=timezone.now()):
            audit_record(
                actor=actor, action="api_key.revoke", target=key, summary=f"API key {key} of {key.instrument} revoked"
            )


def audit_record(*, actor, action: str, target, summary: str, reason: str = "", details: dict | None = None) -> None:
    """One AuditEntry; actor None means the system (e.g. the user-office sync)."""
    AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        summary=summary[:500],
        reason=reason,
        details=details or {},
    )


def investigation_user_add(*, investigation: Investigation, user, role: str, actor) -> InvestigationUser:
    with transaction.atomic():
        member, created = InvestigationUser.objects.get_or_create(investigation=investigation, user=user, role=role)
        if created:
            audit_record(
                actor=actor,
                action="investigation_user.add",
                target=investigation,
                summary=f"{user} added as {member.get_role_display()} to {investigation}",
                details={"user": user.username, "role": role},
            )
    return member


def investigation_user_remove(*, member: InvestigationUser, actor) -> None:
    with transaction.atomic():
        if InvestigationUser.objects.filter(pk=member.pk).delete()[0]:
            audit_record(
                actor=actor,
                action="investigation_user.remove",
                target=member.investigation,
                summary=f"{member.user} removed as {member.get_role_display()} from {member.investigation}",
                details={"user": member.user.username, "role": member.role},
            )


def instrument_scientist_add(*, instrument: Instrument, user, actor) -> InstrumentScientist:
    with transaction.atomic():
        scientist, created = InstrumentScientist.objects.get_or_create(instrument=instrument, user=user)
        if created:
            audit_record(
                actor=actor,
                action="instrument_scientist.add",
                target=instrument,
                summary=f"{user} made instrument scientist of {instrument}",
                details={"user": user.username},
            )
    return scientist


def instrument_scientist_remove(*, scientist: InstrumentScientist, actor) -> None:
    with transaction.atomic():
        if InstrumentScientist.objects.filter(pk=scientist.pk).delete()[0]:
            audit_record(
                actor=actor,
                action="instrument_scientist.remove",
                target=scientist.instrument,
                summary=f"{scientist.user} no longer instrument scientist of {scientist.instrument}",
                details={"user": scientist.user.username},
            )
