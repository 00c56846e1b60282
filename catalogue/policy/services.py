"""The data policy's writes: release dates (embargo) and the notices sent before data become
public. Every change is audited."""

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from catalogue.models import Investigation, InvestigationUser
from catalogue.people.services import audit_record


def default_release_date(end_date: datetime) -> datetime:
    return end_date + relativedelta(years=settings.EMBARGO_YEARS)


RELEASE_NOTICE_DAYS = 30


def investigation_release_date_change(
    *, investigation: Investigation, release_date: datetime, actor, reason: str
) -> Investigation:
    """Move the date from which an investigation is public; who, when and why go to the audit log."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required to change a release date")
    with transaction.atomic():
        investigation = Investigation.objects.select_for_update().get(pk=investigation.pk)
        previous = investigation.release_date
        if previous == release_date:
            return investigation
        investigation.release_date = release_date
        # The participants are told again before the new date.
        investigation.release_notice_sent = None
        investigation.save(update_fields=["release_date", "release_notice_sent", "modified"])
        audit_record(
            actor=actor,
            action="release_date.change",
            target=investigation,
            summary=f"Release date of {investigation} moved from {previous:%Y-%m-%d} to {release_date:%Y-%m-%d}",
            reason=reason,
            details={"from": previous.isoformat(), "to": release_date.isoformat()},
        )
    return investigation


def release_notices_send() -> int:
    """E-mail the participants of investigations that become public within RELEASE_NOTICE_DAYS.

    Each investigation is marked in the same transaction (rows locked, skipped if another run holds
    them), and the mails go out when it commits: running it again sends nothing twice.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Investigation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                release_notice_sent__isnull=True,
                release_date__gt=now,
                release_date__lte=now + timedelta(days=RELEASE_NOTICE_DAYS),
            )
            .select_related("instrument")
        )
        members = (
            InvestigationUser.objects.filter(investigation__in=due)
            .exclude(user__email="")
            .select_related("user")
            .order_by("investigation_id", "user_id")
        )
        recipients: dict[int, dict[int, str]] = {}
        for member in members:
            recipients.setdefault(member.investigation_id, {})[member.user_id] = member.user.email
        messages = [
            (
                f"{investigation.name} {investigation.visit_id}: your data becomes public on "
                f"{timezone.localtime(investigation.release_date):%d %B %Y}",
                _release_notice_body(investigation),
                None,
                [email],
            )
            for investigation in due
            for email in recipients.get(investigation.pk, {}).values()
        ]
        Investigation.objects.filter(pk__in=[i.pk for i in due]).update(release_notice_sent=now)
        transaction.on_commit(lambda: send_mass_mail(messages))
    return len(messages)


def _release_notice_body(investigation: Investigation) -> str:
    return (
        f"The data of {investigation.name} (session {investigation.visit_id} on {investigation.instrument}), "
        f"{investigation.title or 'untitled'}, becomes public on "
        f"{timezone.localtime(investigation.release_date):%d %B %Y}: from then on anyone can find, read and "
        f"download it in the {settings.FACILITY_NAME} data portal.\n\n"
        "If the embargo should be extended, please ask the facility's data office before that date.\n"
    )
