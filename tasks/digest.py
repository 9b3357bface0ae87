"""The reviewers' daily digest: what waits in a queue is a count on the queue (the badge of the
nav link, tasks.context_processors), not a notification per item; once a day, a reviewer whose
queue received new check-ins since their last digest is told so in one notification:
"N new check-ins are waiting for your review (M in all, the oldest since …)".

Run by the beat every hour (tasks.send_review_digests); a reviewer gets it at most once a day,
from REVIEW_DIGEST_HOUR local time. Idempotent: the notifications.Digest row (one per user,
kind and day, unique) is written with the notification, and records what was told and up to
when, so a second run the same day sends nothing and the next digest counts only what came after.
"""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import ngettext

from enterprises.models import Profile
from notifications.models import Digest, Notification
from notifications.services import notify

from .models import ReviewEvent
from .selectors import QUEUE_STATE, review_queue_count, waiting_checkins

QUEUE_SUBJECT = "queue"


def queue_news(user, profile: Profile, since: datetime.datetime | None) -> tuple[int, int, datetime.datetime | None]:
    """(how many check-ins in the user's queue arrived after `since` (all of them without one),
    how many wait in all, since when the oldest waits). The total comes from the counters, as
    on the nav link; the new ones from the review events since the last digest (indexed by
    time), so a city of 100,000 enterprises costs no COUNT over its check-ins."""
    total = review_queue_count(user, profile)
    if not total:
        return 0, 0, None
    queue = waiting_checkins(user, profile)
    oldest = queue.order_by("submitted_at").values_list("submitted_at", flat=True).first()
    if since is None:
        return total, total, oldest
    arrived = ReviewEvent.objects.filter(to_state=QUEUE_STATE[profile.role], at__gt=since).values("checkin_id")
    return queue.filter(pk__in=arrived).count(), total, oldest


def digest_text(new: int, total: int, oldest: datetime.datetime) -> str:
    return ngettext(
        "%(new)d new check-in is waiting for your review (%(total)d in all, the oldest since %(oldest)s).",
        "%(new)d new check-ins are waiting for your review (%(total)d in all, the oldest since %(oldest)s).",
        new,
    ) % {"new": new, "total": total, "oldest": formats.date_format(timezone.localtime(oldest), "SHORT_DATE_FORMAT")}


def send_review_digest(user, profile: Profile, now: datetime.datetime) -> Notification | None:
    """Today's digest for one reviewer, or None (nothing new, or already sent today)."""
    today = timezone.localdate(now)
    latest = Digest.objects.filter(recipient=user, kind=Digest.Kind.QUEUE).order_by("-covers_until").first()
    if latest is not None and latest.day == today:
        return None
    new, total, oldest = queue_news(user, profile, latest.covers_until if latest else None)
    if not new:
        return None
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                recipient=user,
                kind=Digest.Kind.QUEUE,
                day=today,
                covers_until=now,
                new_count=new,
                total_count=total,
                created_at=now,
            )
            # Yesterday's digest, if still unread, is superseded by today's.
            Notification.objects.filter(
                recipient=user, kind=Notification.Kind.DIGEST, subject=QUEUE_SUBJECT, read_at__isnull=True
            ).update(read_at=now)
            (notification,) = notify(
                [user.pk],
                Notification.Kind.DIGEST,
                digest_text(new, total, oldest),
                reverse("tasks:review_queue"),
                subject=QUEUE_SUBJECT,
            )
            digest.notification = notification
            digest.save(update_fields=["notification"])
    except IntegrityError:  # another run sent today's first
        return None
    return notification


def send_review_digests(now: datetime.datetime | None = None) -> int:
    """The digests due now, for every active reviewer (county and city office users);
    returns how many were sent. Nothing before REVIEW_DIGEST_HOUR local time."""
    now = now or timezone.now()
    if timezone.localtime(now).hour < settings.REVIEW_DIGEST_HOUR:
        return 0
    done_today = Digest.objects.filter(kind=Digest.Kind.QUEUE, day=timezone.localdate(now)).values("recipient_id")
    users = (
        get_user_model()
        .objects.filter(is_active=True, profile__role__in=list(QUEUE_STATE))
        .exclude(pk__in=done_today)
        .select_related(*(f"profile__{relation}" for relation in Profile.SCOPE_RELATIONS))
        .order_by("pk")
    )
    sent = 0
    for user in users:
        if send_review_digest(user, Profile.for_user(user), now) is not None:
            sent += 1
    return sent
