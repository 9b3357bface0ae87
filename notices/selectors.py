"""Reads for the channel pages: scoping from the querysets' visible_to(), the joins each
list needs chosen here so that no list runs a query per row."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _

from enterprises.models import with_names
from scoring.figures import rate
from tasks.models import Evidence

from .models import ExampleCase, Need, Notice, NoticeRead
from .publishing import notice_recipients


def notices_for(user):
    """The user's notices, newest first, each with `is_read` for the user."""
    return (
        Notice.objects.visible_to(user)
        .with_read_flag(user)
        .select_related("sender_region", "target_county")
        .order_by("-published_at", "-pk")
    )


def notice_for_detail(user, pk):
    try:
        return Notice.objects.visible_to(user).select_related("sender_region", "target_county", "sender").get(pk=pk)
    except Notice.DoesNotExist:
        raise Http404(_("No such notice.")) from None


def notice_readers(notice, show=""):
    """(recipients with `read_at` (None if unread), total count, read count); `show` is
    "read", "unread" or "" for all. Counts and the page are a constant number of queries."""
    User = get_user_model()
    recipients = notice_recipients(notice)
    total = recipients.count()
    read = NoticeRead.objects.filter(notice=notice, user__in=recipients.values("pk")).count()
    rows = (
        User.objects.filter(pk__in=recipients.values("pk"))
        .annotate(
            read_at=Subquery(NoticeRead.objects.filter(notice=notice, user=OuterRef("pk")).values("read_at")[:1])
        )
        .select_related("profile__enterprise__county", "profile__region")
    )
    if show == "read":
        rows = rows.filter(read_at__isnull=False)
    elif show == "unread":
        rows = rows.filter(read_at__isnull=True)
    return rows.order_by("-read_at", "username"), total, read


def read_rate_by_county(notice):
    """The notice's recipients per county-level unit (a liaison counts in its enterprise's
    county, a county office in its own), with how many have read it and the read rate (%),
    in the counties' order: one grouped query, whatever the audience."""
    has_read = Exists(NoticeRead.objects.filter(notice=notice, user=OuterRef("pk")))
    rows = list(
        notice_recipients(notice)
        .annotate(
            name=Coalesce("profile__enterprise__county__name", "profile__region__name"),
            order=Coalesce("profile__enterprise__county__order", "profile__region__order"),
            code=Coalesce("profile__enterprise__county__code", "profile__region__code"),
            has_read=has_read,
        )
        .values("name", "order", "code")
        .annotate(total=Count("pk"), read=Count("pk", filter=Q(has_read=True)))
        .order_by("order", "code")
    )
    for row in rows:
        row["rate"] = rate(row["read"], row["total"])
    return rows


def needs_for(user, state=""):
    needs = Need.objects.visible_to(user).select_related("enterprise", "county")
    if state:
        needs = needs.filter(state=state)
    return needs.order_by("-created_at", "-pk")


def need_for_detail(user, pk):
    try:
        return Need.objects.visible_to(user).select_related("enterprise", "county", "reporter").get(pk=pk)
    except Need.DoesNotExist:
        raise Http404(_("No such need.")) from None


def need_thread(need):
    return list(need.messages.select_related(*with_names("author")).order_by("at", "pk"))


def cases_for(user, category=""):
    cases = ExampleCase.objects.visible_to(user).select_related(
        "checkin__assignment__indicator", "checkin__assignment__enterprise", "checkin__assignment__county"
    )
    if category:
        cases = cases.filter(category=category)
    return cases.order_by("-created_at", "-pk")


def case_for_detail(user, pk):
    try:
        return cases_for(user).get(pk=pk)
    except ExampleCase.DoesNotExist:
        raise Http404(_("No such case.")) from None


def case_evidence(user, case):
    """The case's evidence files the user may download: all of them when the case's
    evidence is public, otherwise only those the user could see anyway."""
    files = Evidence.objects.all() if case.is_public_evidence else Evidence.objects.visible_to(user)
    return files.filter(checkin_id=case.checkin_id).order_by("pk")
