"""The review queue's count for the navigation: what waits is a number on the queue's link,
not a notification per item. One COUNT through the queue's own selector (same scope), only
for reviewing roles and only when a page shows it; cached on the request."""

from django.utils.functional import SimpleLazyObject

from enterprises.models import Profile

from . import selectors


def _count(request):
    if not hasattr(request, "_review_queue_count"):
        user = getattr(request, "user", None)
        profile = Profile.for_user(user) if user is not None else None
        request._review_queue_count = selectors.review_queue_count(user, profile) or 0
    return request._review_queue_count


def review_queue_count(request) -> dict[str, SimpleLazyObject]:
    return {"review_queue_count": SimpleLazyObject(lambda: _count(request))}
