"""账号管理 pages (accounts.onboarding): the accounts an office manages, creating one,
resetting a password, disabling and enabling (each confirmed, POST only), the one-time
account sheet, the audit trail; and everyone's own 我的账号 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from chanjgai_portal.paginator import page_of
from enterprises.models import Profile

from . import onboarding, security
from .forms import AccountCreateForm, AccountFilterForm, ContactForm
from .models import AccountSheet
from .password_reset import client_address

ACTIONS = {
    "reset": (onboarding.reset_password, gettext_lazy("Reset the password")),
    "disable": (onboarding.disable_account, gettext_lazy("Disable the account")),
    "enable": (onboarding.enable_account, gettext_lazy("Enable the account")),
}


def _manager_or_403(request):
    if not onboarding.allowed_roles(request.user):
        raise PermissionDenied(_("Only the reform offices can manage accounts."))


@login_required
def account_list(request):
    """The accounts in the office's scope: search, filter by role and state, paginated."""
    _manager_or_403(request)
    form = AccountFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = onboarding.accounts_for_list(
        request.user, q=filters.get("q", ""), role=filters.get("role", ""), state=filters.get("state", "")
    )
    context = {
        "filter": {"form": form},
        "page_obj": page_of(request, rows),
        "sheets": onboarding.sheets_of(request.user).order_by("-created_at")[:5],
    }
    return render(
        request, "accounts/account_list.html", context, status=200 if form.is_valid() or not request.GET else 400
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request):
    """A new account with a one-time initial password, then its sheet."""
    _manager_or_403(request)
    form = AccountCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sheet = onboarding.create_account(
                request.user,
                username=data["username"],
                role=data["role"],
                enterprise=data.get("enterprise"),
                region=data.get("region"),
                person_name=data["person_name"],
                email=data["email"],
                phone=data["phone"],
                address=client_address(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The account %(username)s is created.") % {"username": data["username"]})
            return redirect("accounts:sheet", sheet.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/account_form.html", {"form": form}, status=status)


def _managed_or_404(request, pk):
    _manager_or_403(request)
    try:
        return onboarding.managed_account(request.user, pk)
    except ValidationError as exc:
        raise Http404(exc.messages[0]) from exc


@login_required
def account_detail(request, pk):
    """One account: who it is, its state, what may be done to it, its audit trail."""
    account = _managed_or_404(request, pk)
    row = onboarding.accounts_for_list(request.user).get(pk=account.pk)
    events = account.account_events.select_related("actor__profile__region", "actor__profile__enterprise")
    context = {"account": row, "account_profile": row.profile, "events": events[:100]}
    return render(request, "accounts/account_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_action(request, pk, action):
    """Confirm, then do, a reset, a disable or an enable (POST only does it)."""
    if action not in ACTIONS:
        raise Http404
    account = _managed_or_404(request, pk)
    service, title = ACTIONS[action]
    errors = []
    if request.method == "POST":
        try:
            result = service(request.user, account.pk, address=client_address(request))
        except ValidationError as exc:
            errors = exc.messages
        else:
            if action == "reset":
                messages.success(
                    request, _("A new initial password is issued for %(username)s.") % {"username": account.username}
                )
                return redirect("accounts:sheet", result.pk)
            if action == "disable":
                messages.success(
                    request, _("%(username)s is disabled: it cannot log in.") % {"username": account.username}
                )
            else:
                messages.success(request, _("%(username)s is enabled again.") % {"username": account.username})
            return redirect("accounts:detail", account.pk)
    context = {"account": account, "action": action, "title": title, "errors": errors}
    return render(request, "accounts/account_confirm.html", context, status=409 if errors else 200)


@login_required
def account_events(request):
    """The audit trail of the accounts the office manages, newest first."""
    _manager_or_403(request)
    events = onboarding.events_visible_to(request.user).select_related(
        "actor__profile__region", "actor__profile__enterprise", "user__profile__region", "user__profile__enterprise"
    )
    return render(request, "accounts/account_events.html", {"page_obj": page_of(request, events)})


def _own_sheet(request, sheet_id) -> AccountSheet:
    sheet = onboarding.sheets_of(request.user).filter(pk=sheet_id).first()
    if sheet is None:
        raise Http404(_("This account sheet is gone: handed out, expired, or not yours."))
    return sheet


@login_required
def sheet_detail(request, sheet_id):
    """The initial passwords of one issue, for the office that issued them, until it says
    they are handed out (or the sheet expires)."""
    sheet = _own_sheet(request, sheet_id)
    response = render(request, "accounts/sheet.html", {"sheet": sheet, "rows": onboarding.sheet_rows(sheet)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def sheet_download(request, sheet_id):
    sheet = _own_sheet(request, sheet_id)
    response = HttpResponse(
        onboarding.sheet_workbook(sheet),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    stamp = timezone.localtime(sheet.created_at).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="accounts-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def sheet_discard(request, sheet_id):
    """The passwords are handed out: the sheet is deleted now."""
    if not onboarding.discard_sheet(request.user, sheet_id):
        raise Http404(_("This account sheet is gone: handed out, expired, or not yours."))
    messages.success(request, _("The account sheet is deleted."))
    return redirect("accounts:list" if onboarding.allowed_roles(request.user) else "home")


@login_required
@require_http_methods(["GET", "POST"])
def my_account(request):
    """我的账号: one's own name, e-mail and phone, and the way to change the password."""
    profile = Profile.for_user(request.user)
    initial = {
        "person_name": profile.person_name if profile else "",
        "email": request.user.email,
        "phone": profile.phone if profile else "",
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            onboarding.update_own_contact(request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Your details are saved."))
            return redirect("accounts:me")
    context = {"form": form, "account_profile": profile, "must_change": security.has_initial_password(request.user)}
    return render(request, "accounts/my_account.html", context, status=400 if form.errors else 200)
