"""The channel pages: notices, needs and good-practice cases. Each view
reads its input, looks objects up through visible_to() (404 outside the user's scope),
calls one service and renders; services raise PermissionDenied (403) and WorkflowError
(409) themselves, a ValidationError re-renders the form with status 400."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from chanjgai_portal.paginator import page_of
from enterprises.inputs import messages_of, show_on_field
from enterprises.models import Profile
from notifications.services import mark_read_on_request
from scoring import charts
from scoring.figures import figure, rate
from tasks import selectors as task_selectors
from tasks.evidence import attachment_response
from tasks.models import Evidence, Indicator
from tasks.upload_handlers import upload_refusal

from . import cases, needs, publishing, selectors
from .forms import ExampleCaseForm, NeedForm, NeedReplyForm, NoticeForm
from .models import NeedState, Notice, NoticeAttachment


def _first_blank(data, *names):
    """The first of the named inputs left blank (the one a service's "is required" is about)."""
    return next((name for name in names if not data.get(name, "").strip()), None)


def _form_errors(form):
    return [e for errors in form.errors.values() for e in errors]


# --- Notices ------------------------------------------------------------------------


@require_safe
@login_required
def notice_list(request):
    return render(
        request, "notices/notice_list.html", {"page_obj": page_of(request, selectors.notices_for(request.user))}
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def notice_create(request):
    profile = publishing.require_publisher(request.user)
    if request.method != "POST":
        form = NoticeForm(profile=profile, initial={"audience": Notice.Audience.CITY})
        return render(request, "notices/notice_form.html", {"form": form})
    form = NoticeForm(request.POST, request.FILES, profile=profile)
    refusal = upload_refusal(request)  # the upload was stopped at a size or count limit
    if refusal is not None:
        context = {"form": form, "errors": [refusal.message]}
        return render(request, "notices/notice_form.html", context, status=refusal.status)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        data = form.cleaned_data
        notice = publishing.publish_notice(
            request.user,
            data["title"],
            data["body"],
            data.get("audience", ""),
            data.get("target_county"),
            data.get("target_size", ""),
            data["files"],
        )
    except ValidationError as error:
        # publish_notice checks the title, then the body, then the audience.
        show_on_field(form, _first_blank(request.POST, "title", "body"), error)
        return render(
            request, "notices/notice_form.html", {"form": form, "errors": messages_of(error)}, status=400
        )
    messages.success(request, _("Notice published: %(title)s") % {"title": notice.title})
    return redirect("notices:notice_readers", pk=notice.pk)


@require_safe
@login_required
def notice_detail(request, pk):
    notice = selectors.notice_for_detail(request.user, pk)
    publishing.record_notice_read(request.user, notice)
    return render(
        request,
        "notices/notice_detail.html",
        {
            "notice": notice,
            "attachments": list(notice.attachments.all()),
            "may_see_readers": publishing.may_see_readers(request.user, notice),
        },
    )


@require_safe
@login_required
def notice_readers(request, pk):
    notice = selectors.notice_for_detail(request.user, pk)
    if not publishing.may_see_readers(request.user, notice):
        raise PermissionDenied(_("Only the office that published a notice sees who has read it."))
    show = request.GET.get("show", "")
    if show not in ("", "read", "unread"):
        show = ""
    readers, total, read = selectors.notice_readers(notice, show)
    by_county = selectors.read_rate_by_county(notice)
    return render(
        request,
        "notices/notice_readers.html",
        {
            "notice": notice,
            "page_obj": page_of(request, readers),
            "total": total,
            "read": read,
            "unread": total - read,
            "read_rate": rate(read, total),
            "by_county": by_county,
            "read_chart": charts.bar_chart(
                [row["name"] for row in by_county],
                [{"name": str(figure("read_rate").name), "data": [row["rate"] for row in by_county]}],
                x_name=_("County-level unit"),
                axes=[charts.axis("read_rate", maximum=100)],
            ),
            "show": show,
        },
    )


@require_safe
@login_required
def notice_attachment(request, pk):
    try:
        attachment = NoticeAttachment.objects.get(
            pk=pk, notice__in=Notice.objects.visible_to(request.user).values("pk")
        )
    except NoticeAttachment.DoesNotExist:
        raise Http404(_("No such file.")) from None
    return attachment_response(attachment.file, attachment.original_name, attachment.content_type)


# --- Needs --------------------------------------------------------------------------


@require_safe
@login_required
def need_list(request):
    state = request.GET.get("state", "")
    if state not in NeedState.values:
        state = ""
    return render(
        request,
        "notices/need_list.html",
        {
            "page_obj": page_of(request, selectors.needs_for(request.user, state)),
            "states": NeedState.choices,
            "state": state,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def need_create(request):
    needs.require_need_reporter(request.user)
    if request.method != "POST":
        return render(request, "notices/need_form.html", {"form": NeedForm()})
    form = NeedForm(request.POST, request.FILES)
    refusal = upload_refusal(request)
    if refusal is not None:
        context = {"form": form, "errors": [refusal.message]}
        return render(request, "notices/need_form.html", context, status=refusal.status)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        need = needs.report_need(
            request.user, form.cleaned_data["category"], form.cleaned_data["text"], form.cleaned_data["attachment"]
        )
    except ValidationError as error:
        show_on_field(form, _first_blank(request.POST, "text"), error)
        return render(request, "notices/need_form.html", {"form": form, "errors": messages_of(error)}, status=400)
    messages.success(request, _("Your need was sent to the county office."))
    return redirect("notices:need_detail", pk=need.pk)


def _render_need(request, need, form=None, errors=None, status=200):
    profile = Profile.for_user(request.user)
    return render(
        request,
        "notices/need_detail.html",
        {
            "need": need,
            "thread": selectors.need_thread(need),
            "actions": needs.need_actions_for(profile, need),
            "form": form or NeedReplyForm(),
            "errors": errors or [],
        },
        status=status,
    )


@require_safe
@login_required
def need_detail(request, pk):
    need = selectors.need_for_detail(request.user, pk)
    # The thread is in front of the user: the notifications about this need are read.
    mark_read_on_request(request, needs.need_subject(need.pk))
    return _render_need(request, need)


def _need_action(request, pk, call, success_message):
    need = selectors.need_for_detail(request.user, pk)
    form = NeedReplyForm(request.POST)
    form.is_valid()
    try:
        call(request.user, need, form.cleaned_data.get("text", ""))
    except ValidationError as error:
        show_on_field(form, "text", error)
        return _render_need(request, need, form, messages_of(error), status=400)
    messages.success(request, success_message)
    return redirect("notices:need_detail", pk=need.pk)


@require_POST
@login_required
def need_reply(request, pk):
    return _need_action(request, pk, needs.reply_need, _("Reply sent."))


@require_POST
@login_required
def need_forward(request, pk):
    return _need_action(request, pk, needs.forward_need, _("Forwarded to the city office."))


@require_POST
@login_required
def need_resolve(request, pk):
    return _need_action(request, pk, needs.resolve_need, _("Marked resolved."))


@require_safe
@login_required
def need_attachment(request, pk):
    need = selectors.need_for_detail(request.user, pk)
    if not need.attachment:
        raise Http404(_("No such file."))
    return attachment_response(need.attachment, need.attachment_name, need.attachment_type)


# --- Good-practice cases -----------------------------------------------------------------


@require_safe
@login_required
def case_list(request):
    category = request.GET.get("category", "")
    if category not in Indicator.Category.values:
        category = ""
    return render(
        request,
        "notices/case_list.html",
        {
            "page_obj": page_of(request, selectors.cases_for(request.user, category)),
            "categories": Indicator.Category.choices,
            "category": category,
        },
    )


@require_safe
@login_required
def case_detail(request, pk):
    case = selectors.case_for_detail(request.user, pk)
    return render(
        request,
        "notices/case_detail.html",
        {"case": case, "indicator": case.checkin.assignment.indicator, "files": list(selectors.case_evidence(request.user, case))},
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def case_create(request, checkin_pk):
    cases.require_case_curator(request.user)
    checkin = task_selectors.checkin_for_detail(request.user, checkin_pk)
    if request.method != "POST":
        form = ExampleCaseForm(initial={"title": checkin.assignment.indicator.title})
        return render(request, "notices/case_form.html", {"form": form, "checkin": checkin})
    form = ExampleCaseForm(request.POST)
    form.is_valid()
    try:
        case = cases.mark_example_case(
            request.user,
            checkin,
            form.cleaned_data.get("title", ""),
            form.cleaned_data.get("summary", ""),
            form.cleaned_data.get("is_public_evidence", False),
        )
    except ValidationError as error:
        return render(
            request,
            "notices/case_form.html",
            {"form": form, "checkin": checkin, "errors": messages_of(error)},
            status=400,
        )
    messages.success(request, _("Good-practice case saved: %(title)s") % {"title": case.title})
    return redirect("notices:case_detail", pk=case.pk)


@require_safe
@login_required
def case_evidence_download(request, pk, evidence_pk):
    case = selectors.case_for_detail(request.user, pk)
    try:
        evidence = selectors.case_evidence(request.user, case).get(pk=evidence_pk)
    except Evidence.DoesNotExist:
        raise Http404(_("No such file.")) from None
    return attachment_response(evidence.file, evidence.original_name, evidence.content_type)
