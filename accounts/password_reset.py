"""忘记密码: Django's password-reset flow (a token link by e-mail, Chinese mails) for an
account with an e-mail on file, asked for by username or e-mail.

Every request gets the same answer, whether or not the account exists or has an e-mail
(no username enumeration): "if the account has an e-mail on file a link has been sent;
otherwise contact your reform office", followed by the offices and their phones. Requests
are limited per address and mails per account (PASSWORD_RESET_PER_ADDRESS, _PER_ACCOUNT an
hour, counted in the database, which every process shares), so the form cannot flood a
mailbox; over the limit the answer is the same and nothing is sent.
"""

from datetime import timedelta

from axes.helpers import get_client_ip_address
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import PasswordResetForm
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.inputs import refuse_nul
from enterprises.models import Region

from .models import AccountEvent, PasswordResetRequest

WINDOW = timedelta(hours=1)


def client_address(request: HttpRequest) -> str | None:
    """The client's address as django-axes reads it (behind PROXY_COUNT proxies)."""
    return get_client_ip_address(request) or None


def contact_offices() -> list[Region]:
    """The reform offices a person without an e-mail on file calls: every city office and
    its county offices, in the portal's order, with their phones (Region.office_phone)."""
    regions = Region.objects.filter(level__in=[Region.Level.CITY, Region.Level.COUNTY]).select_related("parent")
    cities = [r for r in regions if r.level == Region.Level.CITY]
    counties = [r for r in regions if r.level == Region.Level.COUNTY]
    ordered = []
    for city in cities:
        ordered.append(city)
        ordered.extend(c for c in counties if c.parent_id == city.pk)
    return ordered


def forget_old_requests() -> int:
    """Delete the requests older than the window they are counted in; returns how many."""
    deleted, _by_model = PasswordResetRequest.objects.filter(at__lt=timezone.now() - WINDOW).delete()
    return deleted


def _recent(**filters) -> int:
    return PasswordResetRequest.objects.filter(at__gte=timezone.now() - WINDOW, **filters).count()


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset form, asked by username or e-mail, sending to active accounts with an
    e-mail (also those an import created with an unusable password), within the limits."""

    email = forms.CharField(label=_("Username or e-mail"), max_length=254)

    def __init__(self, *args, request: HttpRequest | None = None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "username", "autofocus": True})

    def clean_email(self):
        value = self.cleaned_data["email"].strip()
        refuse_nul(value, _("Username or e-mail"))
        return value

    def get_users(self, value):
        User = get_user_model()
        users = User.objects.filter(Q(username=value) | Q(email__iexact=value), is_active=True).exclude(email="")
        return [user for user in users if user.email]

    def save(self, *args, request=None, **kwargs):
        request = request or self.request
        address = client_address(request) if request is not None else None
        over_limit = address is not None and _recent(address=address) >= settings.PASSWORD_RESET_PER_ADDRESS
        PasswordResetRequest.objects.create(address=address)
        if over_limit:
            return
        value = self.cleaned_data["email"]
        for user in self.get_users(value):
            if _recent(user=user) >= settings.PASSWORD_RESET_PER_ACCOUNT:
                continue
            PasswordResetRequest.objects.create(address=None, user=user)
            self._send_to(user, request=request, **kwargs)

    def _send_to(self, user: AbstractBaseUser, *, request, **kwargs):
        # Django's save() finds the users itself by e-mail: send to this one only.
        self.get_users = lambda _value: [user]
        try:
            super().save(request=request, **kwargs)
        finally:
            del self.get_users


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "offices": contact_offices()}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The e-mailed link: a new password of the owner's own, in the audit trail."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        AccountEvent.objects.create(
            actor=form.user,
            user=form.user,
            action=AccountEvent.Action.PASSWORD_RESET_BY_EMAIL,
            address=client_address(self.request),
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
