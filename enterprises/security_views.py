"""Pages of enterprises/security.py: the city office's unlock page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import security


@login_required
@require_http_methods(["GET", "POST"])
def unlock_accounts(request):
    """The lockouts in force in the city office's city, each with an unlock button, and a
    form to unlock any username of the city (city office only: 403 for other roles)."""
    errors = []
    username = ""
    if request.method == "POST":
        username = request.POST.get("username", "")
        try:
            security.unlock_user(request.user, username)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("%(username)s can log in again.") % {"username": username.strip()})
            return redirect("unlock_accounts")
    locked = security.locked_accounts(request.user)
    context = {"locked": locked, "errors": errors, "username": username}
    return render(request, "registration/unlock.html", context, status=400 if errors else 200)
