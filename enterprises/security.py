"""Access rules: login lockouts (django-axes), unlocking, and the forced change of the demo password.

Every rule here is used by the browser login, the API token endpoint and the admin alike:

- `lockout_response`: what a locked-out username + address gets (settings.AXES_LOCKOUT_CALLABLE,
  and api.views.TokenView for the API).
- `unlock_user(actor, username)`: the one way to lift a lockout early (city office page, admin).
- `is_demo_password(raw)`: outside DEBUG (REFUSE_DEMO_PASSWORD) the demo accounts' password is
  not good enough to work with; a browser login with it must change it first
  (`PasswordChangeRequiredMiddleware`) and the API refuses it.
"""

import logging
import math
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Profile

log = logging.getLogger(__name__)

LOCKOUT_STATUS = 429
# Session keys: the password hash the user logged in with, while it is the demo password.
DEMO_PASSWORD_SESSION_KEY = "demo_password_hash"


# --- lockouts ------------------------------------------------------------------------------
def cool_off_minutes(request=None):
    """How long a lockout lasts, in whole minutes (settings.AXES_COOLOFF_TIME)."""
    cool_off = get_cool_off(request) or timedelta(0)
    return max(1, math.ceil(cool_off.total_seconds() / 60))


def lockout_message(request=None):
    return _(
        "Too many failed logins with this username from your address: logging in is locked "
        "for %(minutes)d minutes. Try again later, or ask the city reform office to unlock "
        "the account."
    ) % {"minutes": cool_off_minutes(request)}


def _is_api_request(request):
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.namespace == "api"
    return request.path_info.startswith("/api/")


def lockout_response(request, original_response=None, credentials=None):
    """settings.AXES_LOCKOUT_CALLABLE: the login page again with the reason (429), or the
    API's JSON error body ({"detail": "…"}, 429) for the API."""
    message = lockout_message(request)
    if _is_api_request(request):
        return JsonResponse({"detail": message}, status=LOCKOUT_STATUS)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout_message": message, "next": request.POST.get("next", "")}
    response = TemplateResponse(request, "registration/login.html", context, status=LOCKOUT_STATUS)
    return response.render()


def axes_username(request, credentials=None):
    """settings.AXES_USERNAME_CALLABLE: the username a login attempt is counted under, as
    django-axes would read it, but no longer than an account's can be.

    Axes stores it in a varchar(255); Django's login form does not enforce the username's
    max_length (it sets the attribute after the validators are built), so a 300-character
    username on the browser or admin login made the recording fail with a 500.
    """
    field = getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")
    username = credentials.get(field) if credentials else request.POST.get(field)
    if username is None:
        return None
    User = get_user_model()
    return str(username)[: User._meta.get_field(User.USERNAME_FIELD).max_length]


def is_locked_out(request, username):
    """Whether this username is locked out from this request's address (API: before any check).

    A username with a NUL character is never locked: no account can have one (the forms and
    serializers refuse it with a 400), and PostgreSQL cannot even compare it.
    """
    if not settings.AXES_ENABLED or "\x00" in (username or ""):
        return False
    return AxesProxyHandler.is_locked(request, {"username": username})


def users_in_city(city):
    """The portal's users who work in `city`: its office, its counties' offices and liaisons,
    and observers of anything in it."""
    return get_user_model().objects.filter(
        Q(profile__region=city)
        | Q(profile__region__parent=city)
        | Q(profile__enterprise__county__parent=city)
    )


def _unlocking_city(actor):
    """The city whose accounts `actor` may unlock; None for a superuser (every account)."""
    if actor.is_superuser:
        return None
    profile = Profile.for_user(actor)
    if profile is None or not profile.is_city_office or profile.city is None:
        raise PermissionDenied(_("Only the city reform office can unlock accounts."))
    return profile.city


def locked_accounts(actor):
    """The lockouts in force that `actor` may lift: [(username, address, failures, since)]."""
    city = _unlocking_city(actor)
    since = timezone.now() - get_cool_off()
    attempts = AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")
    if city is not None:
        attempts = attempts.filter(username__in=users_in_city(city).values("username"))
    return list(attempts.values_list("username", "ip_address", "failures_since_start", "attempt_time"))


def unlock_user(actor, username):
    """Clear every failed-login record of `username` (all addresses); returns how many.

    City office only, for accounts of its own city; a superuser may unlock anyone.
    Raises PermissionDenied for other roles and ValidationError for an unknown username.
    """
    city = _unlocking_city(actor)
    username = (username or "").strip()
    users = get_user_model().objects.filter(username=username)
    if city is not None:
        users = users & users_in_city(city)
    if not username or not users.exists():
        raise ValidationError(_("There is no account with this username in your city."))
    cleared = AxesProxyHandler.reset_attempts(username=username)
    log.info("%s unlocked the login of %s (%d records cleared)", actor.get_username(), username, cleared)
    return cleared


# --- the demo password ---------------------------------------------------------------------
def is_demo_password(raw_password):
    """Whether `raw_password` is the demo password and must not be used: outside DEBUG, i.e.
    with settings.REFUSE_DEMO_PASSWORD (its default is `not DEBUG`)."""
    if not settings.REFUSE_DEMO_PASSWORD or not raw_password or not settings.DEMO_PASSWORD:
        return False
    return constant_time_compare(str(raw_password), settings.DEMO_PASSWORD)


def demo_password_message():
    return _("The demo password may not be used here. Log in on the website and change your password first.")


@receiver(user_logged_in, dispatch_uid="enterprises.security.flag_demo_password")
def flag_demo_password(sender, request, user, **kwargs):
    """A browser login (portal or admin) with the demo password: remember the hash it had,
    so every page asks for a new password until the hash changes."""
    if request is None or not hasattr(request, "session"):
        return
    if is_demo_password(request.POST.get("password")):
        request.session[DEMO_PASSWORD_SESSION_KEY] = user.password


class PasswordChangeRequiredMiddleware:
    """Sends a user who logged in with the demo password to the password change page, from
    every page but that one and logging out, until the password is changed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        flagged = request.session.get(DEMO_PASSWORD_SESSION_KEY) if hasattr(request, "session") else None
        if flagged and request.user.is_authenticated:
            if request.user.password != flagged:
                del request.session[DEMO_PASSWORD_SESSION_KEY]
            elif not self._allowed(request.path_info):
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"detail": _("Change the demo password first.")}, status=403)
                return redirect("password_change")
        return self.get_response(request)

    @staticmethod
    def _allowed(path):
        allowed = (reverse("password_change"), reverse("password_change_done"), reverse("logout"))
        return path in allowed or path.startswith("/" + settings.STATIC_URL.lstrip("/"))


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's minimum length rule with a message the zh_Hans catalogue translates (Django
    5.2 changed its own msgid, and its zh_Hans catalogue still has only the old one)."""

    def get_error_message(self):
        return ngettext(
            "This password is too short: it must have at least %(min_length)d character.",
            "This password is too short: it must have at least %(min_length)d characters.",
            self.min_length,
        ) % {"min_length": self.min_length}
