"""The bell's pages: the user's notifications, mark all read, open one (and follow its link).
Their URLs stay in the `notices` namespace (notices/urls.py), where they always were."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from chanjgai_portal.paginator import page_of

from . import selectors, services
from .models import Notification


@require_safe
@login_required
def notification_list(request):
    page_obj = page_of(request, selectors.notifications_for(request.user))
    return render(request, "notifications/notification_list.html", {"page_obj": page_obj})


@require_POST
@login_required
def mark_all_read(request):
    services.mark_all_read(request.user)
    messages.success(request, _("All notifications are marked read."))
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
