"""Access rules: login lockouts (django-axes), unlocking, API tokens, and the forced change of
the demo password.

Every rule here is used by the browser login, the API token endpoint and the admin alike:

- `lockout_response`: what a locked-out username + address gets (settings.AXES_LOCKOUT_CALLABLE,
  and api.views.TokenView for the API).
- `LockoutPasswordChangeForm`: a wrong current password on the password change form is a
  failed login, counted and locked out like one.
- `unlock_user(actor, username)`: the one way to lift a lockout early (city office page, admin).
- `authenticate_for_api`, `issue_api_token`, `revoke_user_tokens`, `revoke_tokens_of(actor,
  username)`: API tokens (django-rest-knox, api/authentication.py); a password change or reset
  revokes every token of the user.
- `is_demo_password(raw)`: outside DEBUG (REFUSE_DEMO_PASSWORD) the demo accounts' password is
  not good enough to work with; a browser login with it must change it first
  (`PasswordChangeRequiredMiddleware`) and the API refuses it as it refuses a wrong password.
  The same holds for a one-time initial password an office issued (accounts.onboarding,
  accounts.models.InitialPassword), which its owner's own change ends (`end_initial_password`).
"""

import logging
import math
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from knox.models import AuthToken

from enterprises import capabilities
from enterprises.inputs import refuse_nul
from enterprises.models import Profile
from enterprises.scoping import users_in_city

from .models import AccountEvent, InitialPassword

log = logging.getLogger(__name__)

LOCKOUT_STATUS = 429
# Session keys: the password hash the user logged in with, while it is the demo password or
# an initial password, and which of the two it is ("demo" or "initial": the page says why).
DEMO_PASSWORD_SESSION_KEY = "demo_password_hash"
PASSWORD_CHANGE_REASON_SESSION_KEY = "password_change_reason"


# --- lockouts ------------------------------------------------------------------------------
def cool_off_minutes(request: HttpRequest | None = None) -> int:
    """How long a lockout lasts, in whole minutes (settings.AXES_COOLOFF_TIME)."""
    cool_off = get_cool_off(request) or timedelta(0)
    return max(1, math.ceil(cool_off.total_seconds() / 60))


def lockout_message(request: HttpRequest | None = None) -> str:
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


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """settings.AXES_LOCKOUT_CALLABLE: the login page again with the reason (429), or the
    API's JSON error body ({"detail": "…"}, 429) for the API. A page that already answered
    the lockout itself (the password change form) keeps its answer."""
    if original_response is not None and getattr(original_response, "status_code", None) == LOCKOUT_STATUS:
        return original_response
    message = lockout_message(request)
    if _is_api_request(request):
        return JsonResponse({"detail": message}, status=LOCKOUT_STATUS)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout_message": message, "next": request.POST.get("next", "")}
    response = TemplateResponse(request, "registration/login.html", context, status=LOCKOUT_STATUS)
    return response.render()


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
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


def is_locked_out(request: HttpRequest, username: str | None) -> bool:
    """Whether this username is locked out from this request's address (API: before any check).

    A username with a NUL character is never locked: no account can have one (the forms and
    serializers refuse it with a 400), and PostgreSQL cannot even compare it.
    """
    if not settings.AXES_ENABLED or "\x00" in (username or ""):
        return False
    return AxesProxyHandler.is_locked(request, {"username": username})


def _guarded_city(actor, refusal):
    """The city whose accounts `actor` looks after (unlocks, revokes the API tokens of); None
    for a superuser (every account). Other roles: PermissionDenied(refusal)."""
    if actor.is_superuser:
        return None
    profile = Profile.for_user(actor)
    if not capabilities.may_unlock_accounts(profile):
        raise PermissionDenied(refusal)
    return profile.city


def _unlocking_city(actor):
    return _guarded_city(actor, _("Only the city reform office can unlock accounts."))


def _account_of_city(city, username):
    """The account called `username` in `city` (any account when city is None), or a
    ValidationError as if there were none."""
    username = (username or "").strip()
    refuse_nul(username, _("Username"))
    users = get_user_model().objects.filter(username=username)
    if city is not None:
        users = users & users_in_city(city)
    user = users.first() if username else None
    if user is None:
        raise ValidationError(_("There is no account with this username in your city."))
    return user


def locked_accounts(actor: AbstractBaseUser) -> list[tuple[str, str | None, int, datetime]]:
    """The lockouts in force that `actor` may lift: [(username, address, failures, since)]."""
    city = _unlocking_city(actor)
    since = timezone.now() - get_cool_off()
    attempts = AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")
    if city is not None:
        attempts = attempts.filter(username__in=users_in_city(city).values("username"))
    return list(attempts.values_list("username", "ip_address", "failures_since_start", "attempt_time"))


def unlock_user(actor: AbstractBaseUser, username: str) -> int:
    """Clear every failed-login record of `username` (all addresses); returns how many.

    City office only, for accounts of its own city; a superuser may unlock anyone.
    Raises PermissionDenied for other roles and ValidationError for an unknown username.
    """
    username = _account_of_city(_unlocking_city(actor), username).get_username()
    cleared = clear_lockout(username)
    log.info("%s unlocked the login of %s (%d records cleared)", actor.get_username(), username, cleared)
    return cleared


def clear_lockout(username: str) -> int:
    """Clear every failed-login record of `username` (all addresses), e.g. after a reset."""
    return AxesProxyHandler.reset_attempts(username=username)


# --- wrong current passwords are failed logins ---------------------------------------------
class LockoutPasswordChangeForm(PasswordChangeForm):
    """Django's password change form, where a wrong current password is a failed login of the
    user from the request's address (django-axes counts it: user_login_failed), and a
    username + address locked out (by logins or by this form) cannot change the password,
    with the login's Chinese message. Otherwise a session left open let anyone guess the
    password here without limit."""

    def __init__(self, user, *args, request, **kwargs):
        self.request = request
        self.locked_out = False
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        credentials = {"username": self.user.get_username()}
        if is_locked_out(self.request, credentials["username"]):
            self._refuse_locked_out()
        try:
            return super().clean_old_password()
        except ValidationError:
            user_login_failed.send(sender=type(self), credentials=credentials, request=self.request)
            if getattr(self.request, "axes_locked_out", False):
                self._refuse_locked_out()  # this failure was the one that locked it
            raise

    def _refuse_locked_out(self):
        self.locked_out = True
        raise ValidationError(lockout_message(self.request), code="locked_out")


# --- API tokens (django-rest-knox) ---------------------------------------------------------
def authenticate_for_api(request: HttpRequest, *, username: str, password: str) -> AbstractBaseUser | None:
    """The user these credentials log in to the API, or None (a failed login, counted by
    django-axes).

    Outside DEBUG the demo password is refused like any wrong password, and counted, without
    being checked: answering it differently told anyone which accounts still had it.
    """
    if is_demo_password(password):
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        return None
    user = authenticate(request=request, username=username, password=password)
    if user is not None and has_initial_password(user):
        # An office's one-time password is for the first browser login only.
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        return None
    return user


def issue_api_token(user: AbstractBaseUser) -> tuple[AuthToken, str]:
    """A new API token of `user`: (the stored token, its key). Only the key's digest is
    stored, so the key can be shown once; it expires as settings.REST_KNOX says."""
    return AuthToken.objects.create(user=user)


def revoke_api_token(token: AuthToken) -> None:
    """End one API token (a logout)."""
    token.delete()


def revoke_user_tokens(user: AbstractBaseUser) -> int:
    """End every API token of `user`; returns how many there were."""
    deleted, _by_model = AuthToken.objects.filter(user=user).delete()
    return deleted


def delete_expired_tokens() -> int:
    """Delete the tokens past their expiry (knox deletes one only when it is sent again, or
    another token of its user is); returns how many."""
    deleted, _by_model = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


def revoke_tokens_of(actor: AbstractBaseUser, username: str) -> int:
    """The city office ends every API token of an account of its city (a superuser: of any
    account), e.g. of a lost phone; returns how many. PermissionDenied for other roles,
    ValidationError for a username outside the city."""
    city = _guarded_city(actor, _("Only the city reform office can revoke API tokens."))
    user = _account_of_city(city, username)
    revoked = revoke_user_tokens(user)
    log.info("%s revoked the %d API tokens of %s", actor.get_username(), revoked, user.get_username())
    return revoked


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.security.revoke_on_password_change")
def revoke_tokens_on_password_change(sender: type, instance: AbstractBaseUser, created: bool, **kwargs) -> None:
    """A new password ends every API token of the user, as it ends their other sessions.

    A receiver, because a password is set in many places that call no service of ours (the
    password form, the admin's "change password", `manage.py changepassword`, resets):
    all call set_password(), which keeps the raw password in `_password` until save() has
    reported it to the validators (password_changed). A hash upgrade at login clears it
    before saving, so re-hashing the same password revokes nothing.
    """
    if not created and getattr(instance, "_password", None) is not None:
        revoke_user_tokens(instance)
        end_initial_password(instance)


def has_initial_password(user: AbstractBaseUser) -> bool:
    """Whether the account still has the one-time password an office issued."""
    return user.pk is not None and InitialPassword.objects.filter(user_id=user.pk).exists()


def end_initial_password(user: AbstractBaseUser) -> None:
    """The owner set a password of their own (the forced change, an e-mailed link, the
    admin's): the initial one is over, and that is in the account's audit trail."""
    deleted, _by_model = InitialPassword.objects.filter(user_id=user.pk).delete()
    if deleted:
        AccountEvent.objects.create(actor=user, user=user, action=AccountEvent.Action.INITIAL_PASSWORD_CHANGED)


# --- the demo password ---------------------------------------------------------------------
def is_demo_password(raw_password: str | None) -> bool:
    """Whether `raw_password` is the demo password and must not be used: outside DEBUG, i.e.
    with settings.REFUSE_DEMO_PASSWORD (its default is `not DEBUG`)."""
    if not settings.REFUSE_DEMO_PASSWORD or not raw_password or not settings.DEMO_PASSWORD:
        return False
    return constant_time_compare(str(raw_password), settings.DEMO_PASSWORD)


@receiver(user_logged_in, dispatch_uid="accounts.security.flag_demo_password")
def flag_demo_password(sender: type, request: HttpRequest | None, user: AbstractBaseUser, **kwargs) -> None:
    """A browser login (portal or admin) with the demo password or an office's initial
    password: remember the hash it had, so every page asks for a new password until the
    hash changes."""
    if request is None or not hasattr(request, "session"):
        return
    reason = None
    if is_demo_password(request.POST.get("password")):
        reason = "demo"
    elif has_initial_password(user):
        reason = "initial"
    if reason:
        request.session[DEMO_PASSWORD_SESSION_KEY] = user.password
        request.session[PASSWORD_CHANGE_REASON_SESSION_KEY] = reason


class PasswordChangeRequiredMiddleware:
    """Sends a user who logged in with the demo password or an initial password to the
    password change page, from every page but that one and logging out, until the password
    is changed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        flagged = request.session.get(DEMO_PASSWORD_SESSION_KEY) if hasattr(request, "session") else None
        if flagged and request.user.is_authenticated:
            if request.user.password != flagged:
                del request.session[DEMO_PASSWORD_SESSION_KEY]
                request.session.pop(PASSWORD_CHANGE_REASON_SESSION_KEY, None)
            elif not self._allowed(request.path_info):
                if request.path_info.startswith("/api/"):
                    if request.session.get(PASSWORD_CHANGE_REASON_SESSION_KEY) == "initial":
                        return JsonResponse({"detail": _("Change your initial password first.")}, status=403)
                    return JsonResponse({"detail": _("Change the demo password first.")}, status=403)
                return redirect("password_change")
        return self.get_response(request)

    @staticmethod
    def _allowed(path):
        # The 大字模式 switch too: the forced password form must be readable by those who need it.
        allowed = (reverse("password_change"), reverse("password_change_done"), reverse("logout"), reverse("text_size"))
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
