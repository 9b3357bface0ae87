"""The bell's unread count for the top bar: one COUNT, only when a page shows it."""

from django.utils.functional import SimpleLazyObject

from .models import Notification


def _unread_count(request):
    # Cached on the request: base.html and bell.html may both ask for it.
    if not hasattr(request, "_unread_notifications"):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            request._unread_notifications = 0
        else:
            request._unread_notifications = Notification.objects.for_user(user).unread().count()
    return request._unread_notifications


def unread_notifications(request) -> dict[str, SimpleLazyObject]:
    return {"unread_notifications": SimpleLazyObject(lambda: _unread_count(request))}
