"""The bell's pages: the user's notifications (by day, filtered by kind), mark read, open one
(and follow its link), and the e-mail preference. Their URLs stay in the `notices` namespace
(notices/urls.py), where they always were."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from chanjgai_portal.paginator import page_of
from enterprises.inputs import messages_of

from . import selectors, services
from .models import EmailPreference, Notification


def _kind_or_none(value):
    """The ?kind= asked for: None for all, the kind, or ValidationError for an unknown one."""
    value = (value or "").strip()
    if not value:
        return None
    if value not in Notification.Kind.values:
        raise ValidationError(_("There is no such kind of notification."))
    return value


def _list_url(kind=None):
    url = reverse("notices:notification_list")
    return f"{url}?{urlencode({'kind': kind})}" if kind else url


@require_safe
@login_required
def notification_list(request):
    context = {
        "tabs": selectors.counts_by_kind(request.user),
        "delivery": selectors.email_delivery(request.user),
        "delivery_choices": EmailPreference.Delivery.choices,
        "has_email": bool(request.user.email),
    }
    try:
        kind = _kind_or_none(request.GET.get("kind"))
    except ValidationError as error:
        context.update(kind=None, days=[], page_obj=None, errors=messages_of(error))
        return render(request, "notifications/notification_list.html", context, status=400)
    page_obj = page_of(request, selectors.notifications_for(request.user, kind))
    context.update(
        kind=kind,
        kind_label=Notification.Kind(kind).label if kind else "",
        kind_unread=next((tab.unread for tab in context["tabs"] if tab.kind == kind), 0) if kind else None,
        page_obj=page_obj,
        days=selectors.group_by_day(page_obj.object_list),
    )
    return render(request, "notifications/notification_list.html", context)


@require_POST
@login_required
def mark_all_read(request):
    """Mark all the user's notifications read, or all of one kind (the filtered list's button)."""
    try:
        kind = _kind_or_none(request.POST.get("kind"))
    except ValidationError as error:
        messages.error(request, " ".join(messages_of(error)))
        return redirect("notices:notification_list")
    if kind:
        services.mark_kind_read(request.user, kind)
        messages.success(
            request, _("All notifications of the kind “%(kind)s” are marked read.") % {"kind": Notification.Kind(kind).label}
        )
    else:
        services.mark_all_read(request.user)
        messages.success(request, _("All notifications are marked read."))
    return redirect(_list_url(kind))


@require_POST
@login_required
def email_preference(request):
    """Choose how notification e-mails come: immediately, a daily digest, or none."""
    try:
        preference = services.set_email_delivery(request.user, request.POST.get("delivery", ""))
    except ValidationError as error:
        messages.error(request, " ".join(messages_of(error)))
        return redirect("notices:notification_list")
    messages.success(
        request, _("Your e-mails: %(choice)s.") % {"choice": preference.get_delivery_display()}
    )
    return redirect("notices:notification_list")


def _is_local_path(link):
    return (
        bool(link)
        and link.startswith("/")
        and not link.startswith("//")
        and "\\" not in link
        and url_has_allowed_host_and_scheme(link, allowed_hosts=None)
    )


@require_safe
@login_required
def notification_open(request, pk):
    try:
        notification = services.open_notification(request.user, pk)
    except Notification.DoesNotExist:
        raise Http404(_("No such notification.")) from None
    if _is_local_path(notification.link):
        return redirect(notification.link)
    return redirect("notices:notification_list")
