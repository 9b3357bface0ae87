"""Pages of accounts/security.py: the password change form that counts wrong current
passwords, and the city office's page that unlocks accounts and revokes their API tokens."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import preferences, security


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change page with security.LockoutPasswordChangeForm: a wrong current
    password counts as a failed login; a locked-out username + address gets the form with
    the lockout message and 429, as the login page does."""

    form_class = security.LockoutPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked_out:
            response.status_code = security.LOCKOUT_STATUS
        return response


@login_required
@require_http_methods(["GET", "POST"])
def unlock_accounts(request):
    """The lockouts in force in the city office's city, each with an unlock button, a form to
    unlock any username of the city, and one to revoke an account's API tokens (city office
    only: 403 for other roles)."""
    errors = []
    username = revoke_username = ""
    if request.method == "POST":
        revoking = request.POST.get("action") == "revoke_tokens"
        if revoking:
            revoke_username = request.POST.get("username", "")
        else:
            username = request.POST.get("username", "")
        try:
            if revoking:
                revoked = security.revoke_tokens_of(request.user, revoke_username)
            else:
                security.unlock_user(request.user, username)
        except ValidationError as exc:
            errors = exc.messages
        else:
            if revoking:
                message = _("The API tokens of %(username)s are revoked (%(count)d).")
                messages.success(request, message % {"username": revoke_username.strip(), "count": revoked})
            else:
                messages.success(request, _("%(username)s can log in again.") % {"username": username.strip()})
            return redirect("unlock_accounts")
    locked = security.locked_accounts(request.user)
    context = {"locked": locked, "errors": errors, "username": username, "revoke_username": revoke_username}
    return render(request, "registration/unlock.html", context, status=400 if errors else 200)


@require_POST
def text_size(request):
    """The header's 大字模式 switch (a plain form, works without JavaScript): `large_text` is
    "on" or "off" (a value, not a toggle, so a form sent twice changes nothing more), then back
    to `next` when it is a page of this site, else to the start page."""
    value = request.POST.get("large_text")
    if value not in ("on", "off"):
        message = _("Unknown text size: choose large text on or off.")
        return render(request, "400.html", {"exception": message}, status=400)
    on = value == "on"
    if request.user.is_authenticated:
        preferences.set_large_text(request.user, on=on)
    target = request.POST.get("next", "")
    same_site = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not (same_site and target.startswith("/")):
        target = reverse("home")
    response = HttpResponseRedirect(target)
    preferences.remember_in_cookie(response, on=on)
    return response
