"""Display preferences: 大字模式 (large text, issue 20).

A signed-in user with a profile keeps the choice on `Profile.large_text`, so it follows them to
any browser; anyone else (the login page, an account without a role) keeps it in a cookie. Every
switch also sets the cookie, so the login page after a logout still shows the user's choice.
"""

from django.conf import settings

from enterprises.models import Profile

LARGE_TEXT_COOKIE = "large_text"
LARGE_TEXT_COOKIE_MAX_AGE = 365 * 24 * 3600


def large_text_for(request) -> bool:
    """Whether the page is drawn in 大字模式 for this request."""
    profile = Profile.for_user(getattr(request, "user", None))
    if profile is not None:
        return profile.large_text
    return request.COOKIES.get(LARGE_TEXT_COOKIE) == "1"


def set_large_text(user, *, on: bool) -> None:
    """Remember 大字模式 on the user's profile (nothing to store for anonymous users or
    accounts without a profile: the cookie carries it for them)."""
    profile = Profile.for_user(user)
    if profile is None:
        return
    Profile.objects.filter(pk=profile.pk).update(large_text=on)
    profile.large_text = on


def remember_in_cookie(response, *, on: bool) -> None:
    """The anonymous side of the choice: a year-long, script-inaccessible cookie."""
    if on:
        response.set_cookie(
            LARGE_TEXT_COOKIE,
            "1",
            max_age=LARGE_TEXT_COOKIE_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(LARGE_TEXT_COOKIE, samesite="Lax")
