"""Idempotency for the site's forms: the hidden token of `{% idempotency_field %}`.

A second submit of the same rendered form (a double click, a reload after a lost answer,
the back button) is answered like the first: the same redirect and the same message,
instead of the 409 page the changed state would now give.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import keys


def form_claim(request):
    """The Claim of a form POST carrying the hidden token (None without one); ValidationError
    if the token is malformed."""
    return keys.claim(
        request.user, request.POST.get(keys.FORM_FIELD), request.method, request.get_full_path(),
        request.POST, request.FILES,
    )


def redirect_with_message(redirect_to, message):
    """A form's Outcome: where the browser is sent and the message shown there."""
    return keys.Outcome(status=302, redirect_to=redirect_to, message=str(message))


def respond(request, outcome):
    """The response of a form's Outcome, first time or replayed."""
    if outcome.message:
        messages.success(request, outcome.message)
    return HttpResponseRedirect(outcome.redirect_to)


def change_and_redirect(request, change, redirect_to, message, conflicts=()):
    """Answer a form POST that makes one change: `change(outcome_hook)` calls the service;
    `redirect_to(result)` and `message(result)` are made inside its transaction and, when the
    form carries its hidden token, recorded with the change. A second submit of the same form
    gets them again; `conflicts` are the errors a first submit's change shows as."""
    claim = form_claim(request)
    answer = keys.Answer(claim, lambda result: redirect_with_message(redirect_to(result), message(result)))

    def perform():
        change(answer)
        return respond(request, answer.outcome)

    return run(request, claim, perform, conflicts)


def run(request, claim, perform, conflicts=()):
    """keys.run for a form view: a replay redirects like the first answer; the token reused
    with other content is a 422 page."""
    try:
        return keys.run(claim, perform, lambda outcome: respond(request, outcome), conflicts)
    except keys.KeyReused:
        message = _("This form was already sent with different content. Reload the page and send it again.")
        return render(request, "409.html", {"message": message, "status_code": 422}, status=422)
