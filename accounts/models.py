"""What the offices' account management records: the audit trail of accounts (created,
password reset, disabled, enabled, the owner's own change of an initial password), which
accounts still have a one-time initial password, and the account sheets waiting to be
handed out (encrypted, for a day at most)."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccountEventQuerySet(models.QuerySet):
    """Account events are an audit trail: appended, never changed or deleted."""

    def update(self, **kwargs):
        raise ValidationError(_("Account events cannot be changed."))

    def delete(self):
        raise ValidationError(_("Account events cannot be deleted."))


class AccountEvent(models.Model):
    """One thing done to an account: who did it, to whom, when, from where."""

    class Action(models.TextChoices):
        CREATED = "created", _("Account created")
        PASSWORD_RESET = "password_reset", _("Password reset by the office")
        DISABLED = "disabled", _("Account disabled")
        ENABLED = "enabled", _("Account enabled")
        INITIAL_PASSWORD_CHANGED = "initial_password_changed", _("Initial password changed by its owner")
        PASSWORD_RESET_BY_EMAIL = "password_reset_by_email", _("Password set through the e-mailed link")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), on_delete=models.PROTECT, related_name="account_events"
    )
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    objects = AccountEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_action_display()} · {self.user}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("Account events cannot be changed."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("Account events cannot be deleted."))


class InitialPassword(models.Model):
    """The account's password is a one-time one an office issued: its owner must change it
    at the first login (and the API refuses it). The row goes when the password changes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="initial_password", primary_key=True
    )
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        verbose_name = _("initial password")
        verbose_name_plural = _("initial passwords")


class AccountSheet(models.Model):
    """The initial passwords of one issue (a new account, a reset, an import), encrypted,
    for the office that issued them to download until they are handed out.

    A database row, not a cache entry: the portal runs several processes, each with its own
    cache, and the download may reach any of them. Deleted on "handed out" or when expired."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    payload = models.BinaryField(_("encrypted content"))

    class Meta:
        verbose_name = _("account sheet")
        verbose_name_plural = _("account sheets")
        ordering = ["-created_at"]


class PasswordResetRequest(models.Model):
    """One request of the 忘记密码 form, kept an hour to limit how many one address (and
    how many for one account) can make: the e-mail must not become a way to flood a mailbox."""

    address = models.GenericIPAddressField(_("address"), null=True, blank=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("password reset request")
        verbose_name_plural = _("password reset requests")
