"""The batch decision pages: choose on the queue, confirm (how many and which), decide, and
read the result (what succeeded, what was refused and why). The rules are tasks.batch's.

The confirmation changes nothing. The decision carries the form's hidden token: its answer
(the per-item results) is recorded under it, the browser is sent to the result page of that
token, and a second submit of the same form (a double click, a reload) waits for the first
and is sent to the same result page instead of deciding anything again.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from enterprises.inputs import messages_of
from enterprises.models import Profile
from idempotency import keys, web

from . import batch, selectors
from .models import ReviewEvent

Action = ReviewEvent.Action

def _action_for(request, data):
    """The batch action asked for (default: the role's); PermissionDenied for a role that may not."""
    profile = Profile.for_user(request.user)
    action = data.get("action") or batch.action_for(profile) or ""
    if action not in batch.BATCH_ROLES:
        action = Action.APPROVE  # an unknown action is refused below like a role that may not
    batch.check_may_batch(request.user, action)
    return profile, action


# Fields of the batch forms themselves, never part of the queue's filter.
_OWN_FIELDS = ("action", "scope", "ids", "page_ids", "page", "text", "queue_query", "csrfmiddlewaretoken")


def _filter_of(query):
    """The queue's filter in a query string, without the batch forms' own fields."""
    params = QueryDict(query or "").copy()
    for field in _OWN_FIELDS:
        params.pop(field, None)
    return params


def _queue_url(query):
    """The review queue with the filter the batch was chosen under."""
    encoded = _filter_of(query).urlencode()
    return reverse("tasks:review_queue") + (f"?{encoded}" if encoded else "")


def _filter_query(request):
    """The queue's filter, carried from the queue page (the selection form's query string)
    through the confirmation (a hidden field) as a query string."""
    if "queue_query" in request.POST:
        return _filter_of(request.POST["queue_query"]).urlencode()
    return _filter_of(request.GET.urlencode()).urlencode()


def _chosen_ids(request, profile, data, query):
    """(ids, how many matched) from the queue's selection: the ticked rows, every row of the
    page, or every check-in that matches the queue's filter (the oldest MAX_BATCH of them)."""
    scope = data.get("scope", "")
    if scope == "all":
        # The queue's own filter and order (tasks.queue): a bad filter value is a ValidationError.
        matching = selectors.review_queue(request.user, profile, QueryDict(query))
        total = matching.count()
        return list(matching.values_list("pk", flat=True)[: batch.MAX_BATCH]), total
    ids = data.getlist("page_ids" if scope == "page" else "ids")
    cleaned = batch.clean_ids(ids)
    return cleaned, len(cleaned)


def _render_confirm(request, action, ids, total, query, text="", errors=None, status=200):
    chosen = batch.selection(request.user, ids)
    items = [chosen[pk] for pk in ids if pk in chosen]
    return render(
        request,
        "tasks/batch_confirm.html",
        {
            "action": action,
            "items": items,
            "ids": ids,
            "total": total,
            "unseen": len(ids) - len(items),
            "capped": total > len(ids),
            "max_batch": batch.MAX_BATCH,
            "queue_query": query,
            "queue_url": _queue_url(query),
            "text": text,
            "errors": errors or [],
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def batch_confirm(request):
    """Show how many and which check-ins the batch would decide; nothing changes here."""
    data = request.POST if request.method == "POST" else request.GET
    profile, action = _action_for(request, data)
    query = _filter_query(request)
    try:
        ids, total = _chosen_ids(request, profile, data, query)
    except ValidationError as error:
        return _render_confirm(request, action, [], 0, query, errors=messages_of(error), status=400)
    if not ids:  # "all that match" when nothing does
        return _render_confirm(request, action, [], 0, query, errors=[_("Nothing matches the filter.")], status=400)
    return _render_confirm(request, action, ids, total, query)


def _result_url(token):
    return reverse("tasks:batch_result", args=[token])


@require_POST
@login_required
def batch_decide(request):
    """Decide every confirmed check-in (tasks.batch); the answer is the result page."""
    profile, action = _action_for(request, request.POST)
    query = _filter_query(request)
    text = request.POST.get("text", "")
    raw_ids = request.POST.getlist("ids")
    try:
        claim = web.form_claim(request)

        def perform():
            if action == Action.APPROVE:
                result = batch.batch_approve(request.user, raw_ids, text)
            else:
                result = batch.batch_return(request.user, raw_ids, text)
            body = {**result.as_dict(), "queue_query": query}
            return keys.Outcome(status=302, body=body, redirect_to=_result_url(claim.key) if claim else "")

        def respond(outcome):
            if claim is None:  # a form without its token: the result is this answer
                return _render_result(request, outcome.body)
            return HttpResponseRedirect(outcome.redirect_to)

        return keys.run_exclusive(claim, perform, respond)
    except keys.KeyReused:
        message = _("This form was already sent with different content. Reload the page and send it again.")
        return render(request, "409.html", {"message": message, "status_code": 422}, status=422)
    except ValidationError as error:
        try:
            ids = batch.clean_ids(raw_ids)
        except ValidationError:
            ids = []
        return _render_confirm(request, action, ids, len(ids), query, text, messages_of(error), status=400)


def _render_result(request, body):
    items = body["items"]
    return render(
        request,
        "tasks/batch_result.html",
        {
            "action": body["action"],
            "succeeded": [item for item in items if item["ok"]],
            "refused": [item for item in items if not item["ok"]],
            "queue_url": _queue_url(body.get("queue_query", "")),
        },
    )


@require_safe
@login_required
def batch_result(request, token):
    """The results a batch recorded under its form's token: only for the user who sent it."""
    outcome = keys.recorded(request.user, token, reverse("tasks:batch_decide"))
    if outcome is None or not isinstance(outcome.body, dict) or "items" not in outcome.body:
        raise Http404(_("No such batch."))
    return _render_result(request, outcome.body)
