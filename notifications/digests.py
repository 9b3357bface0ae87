"""The daily e-mail digest: for users who chose it (EmailPreference.Delivery.DAILY), one e-mail
a day listing the notifications since their last digest, through the outbox (nothing lost,
nothing sent twice). notify() writes no e-mail for them; this job, run by the beat every
hour, writes the digest once the day's EMAIL_DIGEST_HOUR (local time) has come.

Idempotent: a Digest row per user and day (unique) is written in the transaction that writes
the e-mail, so a second run, or two at once, sends nothing more. Each digest covers the
notifications up to the moment it was written (`covers_until`); the next starts from there.
"""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Digest, EmailPreference, Notification, OutgoingEmail

# At most this many notifications are listed in one e-mail (the rest are counted).
DIGEST_MAX_LINES = 50


def digest_due(now: datetime.datetime) -> bool:
    """Whether today's digests may go out: from EMAIL_DIGEST_HOUR, local time."""
    return timezone.localtime(now).hour >= settings.EMAIL_DIGEST_HOUR


def _body(notifications: list[Notification], base: str) -> str:
    lines = [
        ngettext(
            "%(count)d notification since the last digest:",
            "%(count)d notifications since the last digest:",
            len(notifications),
        )
        % {"count": len(notifications)},
        "",
    ]
    for notification in notifications[:DIGEST_MAX_LINES]:
        when = timezone.localtime(notification.created_at).strftime("%m-%d %H:%M")
        lines.append(f"{when} [{notification.get_kind_display()}] {notification.text}")
        if notification.link:
            lines.append(f"    {base}{notification.link}")
    if len(notifications) > DIGEST_MAX_LINES:
        lines.append("")
        lines.append(_("… and %(count)d more.") % {"count": len(notifications) - DIGEST_MAX_LINES})
    lines += ["", _("All your notifications: %(url)s") % {"url": base + reverse("notices:notification_list")}]
    return "\n".join(lines)


def write_email_digest(user, since: datetime.datetime, now: datetime.datetime) -> OutgoingEmail | None:
    """Write today's digest e-mail of one user (the Digest row and its outbox row, in one
    transaction), or None when there is nothing new or it was already written today."""
    notifications = list(
        Notification.objects.for_user(user).filter(created_at__gt=since, created_at__lte=now).order_by("created_at", "pk")
    )
    if not notifications:
        return None
    base = settings.PORTAL_BASE_URL.rstrip("/")
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                recipient=user,
                kind=Digest.Kind.EMAIL,
                day=timezone.localdate(now),
                covers_until=now,
                new_count=len(notifications),
                created_at=now,
            )
            row = OutgoingEmail.objects.create(
                digest=digest,
                to=user.email,
                subject=(
                    settings.EMAIL_SUBJECT_PREFIX
                    + ngettext(
                        "Daily digest: %(count)d notification",
                        "Daily digest: %(count)d notifications",
                        len(notifications),
                    )
                    % {"count": len(notifications)}
                )[:300],
                body=_body(notifications, base),
                next_attempt_at=now,
                created_at=now,
            )
    except IntegrityError:  # another run wrote today's digest first
        return None
    return row


def send_email_digests(now: datetime.datetime | None = None) -> list[int]:
    """Write the daily digest e-mails that are due; returns the outbox ids written (the
    caller has them sent; the outbox sweep sends them anyway)."""
    now = now or timezone.now()
    if not digest_due(now):
        return []
    today = timezone.localdate(now)
    done_today = Digest.objects.filter(kind=Digest.Kind.EMAIL, day=today).values("recipient_id")
    users = (
        get_user_model()
        .objects.filter(is_active=True, email_preference__delivery=EmailPreference.Delivery.DAILY)
        .exclude(email="")
        .exclude(pk__in=done_today)
        .select_related("email_preference")
        .order_by("pk")
    )
    written = []
    for user in users.iterator(chunk_size=500):
        last = (
            Digest.objects.filter(recipient=user, kind=Digest.Kind.EMAIL)
            .order_by("-covers_until")
            .values_list("covers_until", flat=True)
            .first()
        )
        # The first digest tells what came since the user chose it (earlier ones were e-mailed
        # one by one, or not at all for "no e-mail").
        since = last or user.email_preference.updated_at
        row = write_email_digest(user, since, now)
        if row is not None:
            written.append(row.pk)
    return written
