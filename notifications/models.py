"""The portal's messaging room: in-app notifications (the bell) and the outbox of the
e-mails that go with them. Every feature above tells people things through here; this
app knows nothing of check-ins, notices or needs beyond the `kind` strings it shows.

The tables keep the names they had in the notices app (db_table)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(recipient=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message to one user in the portal's bell; optionally also sent by email."""

    class Kind(models.TextChoices):
        RETURNED = "returned", _("Returned to you")
        FORWARDED = "forwarded", _("Waiting for your review")
        SCORED = "scored", _("Scored")
        DEADLINE = "deadline", _("Deadline reminder")
        NOTICE = "notice", _("New notice")
        NEED = "need", _("Need or problem")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=500)
    # A local path inside the portal (checked again when followed).
    link = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        db_table = "notices_notification"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_recipient_read"),
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_new"),
        ]

    def __str__(self):
        return self.text


class OutgoingEmail(models.Model):
    """One notification e-mail, written in the transaction of the event it tells about and
    sent from here (notifications/outbox.py): a broker or database outage delays it, never loses it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Gave up")

    notification = models.OneToOneField(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="email"
    )
    # The address when the event happened: a later change of address does not redirect it.
    to = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Due from this time; a sender that takes the row moves it into the future first (the
    # retry time if this attempt fails), so no other sender can take it meanwhile.
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        db_table = "notices_outgoingemail"
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["next_attempt_at", "pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="outgoing_email_due",
            ),
        ]

    def __str__(self):
        return f"{self.to}: {self.subject}"
