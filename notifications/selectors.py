"""Reads for the bell's pages: the user's notifications (optionally of one kind), the counts
per kind for the list's tabs, and a page of them grouped by day, several about one thing
collapsed into one entry."""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import EmailPreference, Notification


def unread_count(request) -> int:
    """The signed-in user's unread notifications (the bell), one COUNT, cached on the request."""
    if not hasattr(request, "_unread_notifications"):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            request._unread_notifications = 0
        else:
            request._unread_notifications = Notification.objects.for_user(user).unread().count()
    return request._unread_notifications


def notifications_for(user: AbstractBaseUser, kind: str | None = None) -> QuerySet[Notification]:
    """The user's notifications (of one kind if given), newest first."""
    notifications = Notification.objects.for_user(user)
    if kind:
        notifications = notifications.filter(kind=kind)
    return notifications.order_by("-created_at", "-pk")


@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    total: int
    unread: int


def counts_by_kind(user: AbstractBaseUser) -> list[KindCount]:
    """For the list's tabs: each kind the user has notifications of, how many and how many
    unread, in the order of Notification.Kind (one GROUP BY on the user's rows)."""
    rows = {
        row["kind"]: row
        for row in Notification.objects.for_user(user)
        .order_by()
        .values("kind")
        .annotate(total=Count("pk"), unread=Count("pk", filter=Q(read_at__isnull=True)))
    }
    return [
        KindCount(kind, label, rows[kind]["total"], rows[kind]["unread"])
        for kind, label in Notification.Kind.choices
        if kind in rows
    ]


@dataclass
class Entry:
    """One line of the list: the newest notification about a thing and the older ones about
    the same thing on the same day (collapsed under it)."""

    notification: Notification
    older: list[Notification] = field(default_factory=list)

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None or any(n.read_at is None for n in self.older)


@dataclass
class Day:
    day: datetime.date
    entries: list[Entry]

    @property
    def ago(self) -> int:
        """Days before today (0 today, 1 yesterday), local time."""
        return (timezone.localdate() - self.day).days


def group_by_day(notifications) -> list[Day]:
    """The notifications (newest first) in days, local time; on each day, those of one kind
    about one subject make one entry (the newest shown, the others counted)."""
    days: list[Day] = []
    for notification in notifications:
        day = timezone.localdate(notification.created_at)
        if not days or days[-1].day != day:
            days.append(Day(day, []))
        entries = days[-1].entries
        key = (notification.kind, notification.subject)
        if notification.subject:
            same = next((e for e in entries if (e.notification.kind, e.notification.subject) == key), None)
            if same is not None:
                same.older.append(notification)
                continue
        entries.append(Entry(notification))
    return days


def email_delivery(user: AbstractBaseUser) -> str:
    """How the user's notification e-mails go (immediately when never chosen)."""
    return (
        EmailPreference.objects.filter(user=user).values_list("delivery", flat=True).first()
        or EmailPreference.Delivery.IMMEDIATE
    )
