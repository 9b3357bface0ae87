"""The check-in pages. Each view reads its input, looks objects up through visible_to()
(404 outside the user's scope), calls one service and renders. Services raise
PermissionDenied (403) and WorkflowError (409, see DomainErrorMiddleware) themselves;
a ValidationError re-renders the page with status 400 and nothing changed."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import render, resolve_url
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from chanjgai_portal.paginator import page_of
from enterprises.inputs import messages_of, show_on_field
from enterprises.models import Profile
from idempotency import web
from notifications.services import mark_read_on_request

from . import batch, previews, selectors, services
from .digest import QUEUE_SUBJECT
from .evidence import attachment_response, preview_response
from .forms import ApproveForm, ReopenForm, ReturnForm, ScoreForm, SubmitCheckInForm
from .models import Evidence, EvidencePreview, PreviewState, ReviewEvent
from .notify import assignment_subject, period_subject
from .upload_handlers import upload_refusal
from .workflow import WorkflowError

Action = ReviewEvent.Action


@require_safe
@login_required
def assignment_list(request):
    profile = Profile.for_user(request.user)
    periods, period = selectors.chosen_period(profile, request.GET.get("period"))
    assignments = selectors.own_assignments(request.user, profile, period)
    if period is not None:
        mark_read_on_request(request, period_subject(period.pk))  # its deadline reminders
    return render(
        request,
        "tasks/assignment_list.html",
        {
            "period": period,
            "periods": periods,
            "page_obj": page_of(request, assignments),
        },
    )


def _render_assignment(request, assignment, form=None, errors=None, status=200):
    profile = Profile.for_user(request.user)
    may_submit = selectors.may_submit(profile, assignment)
    history = selectors.checkin_history(assignment)
    latest = history[0] if history else None
    if form is None and may_submit:
        form = SubmitCheckInForm(previous=selectors.returned_version(history))
    return render(
        request,
        "tasks/assignment_detail.html",
        {
            "assignment": assignment,
            "indicator": assignment.indicator,
            "history": history,
            "latest": latest,
            "return_event": selectors.return_event(latest),
            "may_submit": may_submit,
            "period_open": assignment.period.accepts_submissions(),
            "form": form,
            "errors": errors or [],
        },
        status=status,
    )


@require_safe
@login_required
def assignment_detail(request, pk):
    assignment = selectors.assignment_for_detail(request.user, pk)
    # The user is on the task: its "returned" and "scored" notifications are read.
    mark_read_on_request(request, assignment_subject(assignment.pk))
    return _render_assignment(request, assignment)


@require_POST
@login_required
def submit(request, pk):
    assignment = selectors.assignment_for_detail(request.user, pk)
    previous = selectors.returned_version(selectors.checkin_history(assignment))
    form = SubmitCheckInForm(request.POST, request.FILES, previous=previous)
    refusal = upload_refusal(request)  # the upload was stopped at a size or count limit
    if refusal is not None:
        return _render_assignment(request, assignment, form=form, errors=[refusal.message], status=refusal.status)
    try:
        if not form.is_valid():
            raise ValidationError([e for errors in form.errors.values() for e in errors])
        # A second submit of this form (its hidden token) is answered like the first.
        return web.change_and_redirect(
            request,
            lambda hook: services.submit_checkin(
                request.user,
                assignment,
                form.cleaned_data["description"],
                form.cleaned_data["files"],
                keep=form.cleaned_data["keep"],
                outcome_hook=hook,
            ),
            lambda checkin: resolve_url("tasks:assignment_detail", pk=assignment.pk),
            lambda checkin: _("Version %(version)s submitted.") % {"version": checkin.version},
            conflicts=(WorkflowError,),
        )
    except ValidationError as error:
        # The service checks the description first, then the files (as the API says, api.views).
        show_on_field(form, "files" if request.POST.get("description", "").strip() else "description", error)
        return _render_assignment(request, assignment, form=form, errors=messages_of(error), status=400)


# The queue's sortable columns: (column, sort ascending, sort descending). "waiting" lists
# the longest-waiting first, which is the waiting column descending.
QUEUE_COLUMNS = {
    "submitted": ("oldest", "newest"),
    "waiting": ("-waiting", "waiting"),
    "assignee": ("enterprise", "-enterprise"),
    "task": ("indicator", "-indicator"),
    "version": ("version", "-version"),
}


def _queue_headers(filters, querystring):
    """Per sortable column: the link that sorts by it (the other way when it is the current
    sort) and its aria-sort value, keeping the filters."""
    current = filters.sort_key
    base = QueryDict(querystring, mutable=True)
    headers = {}
    for column, (ascending, descending) in QUEUE_COLUMNS.items():
        state = "ascending" if current == ascending else "descending" if current == descending else "none"
        base["sort"] = descending if state == "ascending" else ascending
        headers[column] = {"url": "?" + base.urlencode(), "aria_sort": state}
    return headers


@require_safe
@login_required
def review_queue(request):
    profile = Profile.for_user(request.user)
    filters = selectors.queue_filters(request.user, profile, request.GET)
    context = {"filters": filters, "queue_state": selectors.QUEUE_STATE[profile.role]}
    try:
        checkins = filters.checkins()
    except ValidationError as error:
        # A bad filter value: the form with its messages, no list, nothing else read.
        context.update(errors=messages_of(error), page_obj=None)
        return render(request, "tasks/review_queue.html", context, status=400)
    querystring = filters.querystring()
    page_obj = page_of(request, checkins)
    mark_read_on_request(request, QUEUE_SUBJECT)  # the digest of new items: they are here
    # The whole queue's size only costs a query when a filter narrows it.
    total = selectors.queue_total(request.user, profile) if filters.active else page_obj.paginator.count
    request._review_queue_count = total  # the nav link's count (tasks.context_processors): the same number
    context.update(
        page_obj=page_obj,
        total=total,
        queue_querystring=querystring,
        headers=_queue_headers(filters, querystring),
        # The decision this role may take on many rows at once (tasks.batch), if any.
        batch_action=batch.action_for(profile),
    )
    return render(request, "tasks/review_queue.html", context)


# The form each review action posts, keyed by action.
ACTION_FORMS = {
    Action.APPROVE: ApproveForm,
    Action.RETURN: ReturnForm,
    Action.SCORE: ScoreForm,
    Action.REOPEN: ReopenForm,
}


# The field a review service's ValidationError is about, as the API's views attribute it.
REVIEW_ERROR_FIELDS = {
    Action.APPROVE: "comment",
    Action.RETURN: "reason",
    Action.SCORE: "points",
    Action.REOPEN: "reason",
}


def _action_form(action, checkin, data=None):
    # Several action forms share a page: prefix their element ids with the action.
    auto_id = f"{action}_%s"
    if action == Action.SCORE:
        return ScoreForm(data, auto_id=auto_id, max_points=checkin.assignment.indicator.max_points)
    return ACTION_FORMS[action](data, auto_id=auto_id)


def _carried_queue(request, profile):
    """The queue filters a check-in page was opened with (?queue=, or the hidden field its
    forms post) as (params, canonical querystring); None when it was not opened from the
    queue. ValidationError on a bad value."""
    raw = (request.POST if request.method == "POST" else request.GET).get("queue")
    if raw is None or profile is None or profile.role not in selectors.QUEUE_STATE:
        return None
    params = QueryDict(raw)
    return params, selectors.queue_querystring(request.user, profile, params)


def _queue_context(request, profile, checkin):
    """Where the check-in stands in the queue it was opened from, for the page's position
    and previous/next links; a bad carried filter only loses the position."""
    try:
        carried = _carried_queue(request, profile)
    except ValidationError:
        return None
    if carried is None:
        return None
    params, querystring = carried
    return {
        "querystring": querystring,
        "position": selectors.queue_position(request.user, profile, params, checkin),
    }


def _render_checkin(request, checkin, bound_action=None, bound_form=None, errors=None, status=200):
    profile = Profile.for_user(request.user)
    actions = selectors.actions_for(profile, checkin)
    forms = {action: _action_form(action, checkin) for action in actions}
    if bound_action is not None:
        forms[bound_action] = bound_form
    return render(
        request,
        "tasks/checkin_detail.html",
        {
            "checkin": checkin,
            "assignment": checkin.assignment,
            "indicator": checkin.assignment.indicator,
            "history": selectors.checkin_history(checkin.assignment),
            "approve_form": forms.get(Action.APPROVE),
            "return_form": forms.get(Action.RETURN),
            "score_form": forms.get(Action.SCORE),
            "reopen_form": forms.get(Action.REOPEN),
            "failed_action": bound_action,
            "errors": errors or [],
            "queue": _queue_context(request, profile, checkin),
            "county_approval": selectors.county_approval(checkin) if Action.SCORE in forms else None,
            "half_points": services.half_points(checkin.assignment.indicator.max_points),
        },
        status=status,
    )


@require_safe
@login_required
def checkin_detail(request, pk):
    return _render_checkin(request, selectors.checkin_for_detail(request.user, pk))


def _review(request, pk, action, call, success_message, next_url="tasks:review_queue"):
    """Run one review service on a check-in in scope; 400 with the form on bad input.

    `call(checkin, outcome_hook, **fields)`. The redirect and its message are decided inside
    the service's transaction and, with the form's hidden token, recorded with the change: a
    second submit of the same form gets them again instead of a 409 (idempotency.web).
    A form posted from a page opened from the queue carries the queue's filters: after the
    decision the browser lands on the next item of that filtered queue, or on the queue
    itself with a note when nothing in it waits any more."""
    checkin = selectors.checkin_for_detail(request.user, pk)
    profile = Profile.for_user(request.user)
    form = _action_form(action, checkin, request.POST)
    redirect_to = (
        resolve_url(next_url, pk=checkin.pk) if next_url == "tasks:checkin_detail" else resolve_url(next_url)
    )
    notes = []
    try:
        # Every field is optional here and the service checks the values; a form error is
        # input no service could take (a NUL character), and leaves the field out of
        # cleaned_data, so the service is not called with it.
        if not form.is_valid():
            raise ValidationError([e for errors in form.errors.values() for e in errors])
        carried = _carried_queue(request, profile) if next_url == "tasks:review_queue" else None
        if carried is not None:
            params, querystring = carried
            # The queue as it stood before the decision: "next" is what followed this item.
            keys_before = selectors.queue_keys(request.user, profile, params)

            def redirect_after(changed):
                key = selectors.next_in_queue(request.user, profile, params, keys_before, changed)
                if key is None:
                    notes.append(_("No check-in waiting for review matches this filter."))
                    return f"{resolve_url('tasks:review_queue')}?{querystring}"
                return f"{resolve_url('tasks:checkin_detail', pk=key)}?{urlencode({'queue': querystring})}"
        else:

            def redirect_after(changed):
                return redirect_to

        return web.change_and_redirect(
            request,
            lambda hook: call(checkin, hook, **form.cleaned_data),
            redirect_after,
            lambda changed: " ".join(
                [success_message % {"assignment": changed.assignment, "version": changed.version}, *map(str, notes)]
            ),
            conflicts=(WorkflowError,),
        )
    except ValidationError as error:
        show_on_field(form, REVIEW_ERROR_FIELDS[action], error)
        return _render_checkin(request, checkin, action, form, messages_of(error), status=400)


@require_POST
@login_required
def approve(request, pk):
    return _review(
        request,
        pk,
        Action.APPROVE,
        lambda checkin, hook, comment: services.approve(request.user, checkin, comment, outcome_hook=hook),
        _("Forwarded to the city office: %(assignment)s (version %(version)s)."),
    )


@require_POST
@login_required
def return_checkin(request, pk):
    return _review(
        request,
        pk,
        Action.RETURN,
        lambda checkin, hook, reason: services.return_checkin(request.user, checkin, reason, outcome_hook=hook),
        _("Returned: %(assignment)s (version %(version)s)."),
    )


@require_POST
@login_required
def score(request, pk):
    return _review(
        request,
        pk,
        Action.SCORE,
        lambda checkin, hook, points, comment: services.score(
            request.user, checkin, points, comment, outcome_hook=hook
        ),
        _("Scored: %(assignment)s (version %(version)s)."),
    )


@require_POST
@login_required
def reopen(request, pk):
    return _review(
        request,
        pk,
        Action.REOPEN,
        lambda checkin, hook, reason: services.reopen(request.user, checkin, reason, outcome_hook=hook),
        _("Reopened for city review: %(assignment)s (version %(version)s)."),
        next_url="tasks:checkin_detail",
    )


@require_safe
@login_required
def evidence_download(request, pk):
    try:
        evidence = Evidence.objects.visible_to(request.user).get(pk=pk)
    except Evidence.DoesNotExist:
        raise Http404(_("No such file.")) from None
    return attachment_response(evidence.file, evidence.original_name, evidence.content_type)


def _visible_evidence(request, pk):
    """The evidence file if the user may download it: previews are checked exactly like downloads."""
    try:
        return previews.visible_evidence(request.user, pk)
    except Evidence.DoesNotExist:
        raise Http404(_("No such file.")) from None


def _preview(request, pk, kind, page=1):
    evidence = _visible_evidence(request, pk)
    try:
        preview = previews.preview_of(evidence, kind, page)
    except EvidencePreview.DoesNotExist:
        raise Http404(_("No preview of this file.")) from None
    return preview_response(preview.file, preview.content_type, f"{kind}-{page}.jpg")


@require_safe
@login_required
def evidence_thumb(request, pk):
    """The thumbnail (a re-encoded JPEG) of an evidence file the user may download."""
    return _preview(request, pk, EvidencePreview.Kind.THUMB)


@require_safe
@login_required
def evidence_page(request, pk, page):
    """The view image of page `page` (an image file has one) of an evidence file."""
    return _preview(request, pk, EvidencePreview.Kind.PAGE, page)


@require_safe
@login_required
def evidence_preview_status(request, pk):
    """The preview state and page images of an evidence file, for the viewer and its polling."""
    evidence = _visible_evidence(request, pk)
    state = evidence.preview_state
    pages = []
    if state == PreviewState.READY:
        pages = [
            {
                "page": p.page,
                "url": resolve_url("tasks:evidence_page", pk=evidence.pk, page=p.page),
                "width": p.width,
                "height": p.height,
            }
            for p in previews.pages_of(evidence)
        ]
    response = JsonResponse(
        {
            "id": evidence.pk,
            "state": state,
            "state_label": str(evidence.get_preview_state_display()),
            "name": evidence.original_name,
            "type": previews.type_label(evidence.content_type),
            "size": evidence.size,
            "page_count": evidence.page_count,
            "pages": pages,
            "thumb": resolve_url("tasks:evidence_thumb", pk=evidence.pk) if state == PreviewState.READY else None,
            "download": resolve_url("tasks:evidence_download", pk=evidence.pk),
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response
