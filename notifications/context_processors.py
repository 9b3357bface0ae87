"""The bell's unread count for the top bar: one COUNT, only when a page shows it."""

from django.utils.functional import SimpleLazyObject

from .selectors import unread_count


def unread_notifications(request) -> dict[str, SimpleLazyObject]:
    # Cached on the request (selectors.unread_count): base.html and bell.html may both ask.
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(request))}
