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
        # No longer written (issue 16: what waits is a count on the queue, and the daily
        # DIGEST): kept so that the rows written before still read.
        FORWARDED = "forwarded", _("Waiting for your review")
        SCORED = "scored", _("Scored")
        DEADLINE = "deadline", _("Deadline reminder")
        NOTICE = "notice", _("New notice")
        NEED = "need", _("Need or problem")
        DIGEST = "digest", _("New items to review")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=500)
    # A local path inside the portal (checked again when followed).
    link = models.CharField(_("link"), max_length=300, blank=True)
    # What the notification is about, as "<what>:<key>" (e.g. "assignment:12", "notice:3",
    # "queue"): the page where the user acts on that thing marks it read (services.mark_read_for),
    # and the list collapses several about one thing. Blank on rows written before it existed.
    subject = models.CharField(_("subject"), max_length=64, blank=True, default="")
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
            models.Index(
                fields=["subject", "recipient"], condition=Q(read_at__isnull=True), name="notification_unread_subject"
            ),
        ]

    def __str__(self):
        return self.text


class EmailPreference(models.Model):
    """How a user wants the e-mails of their notifications (none stored = immediately)."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", _("Immediately, one e-mail per notification")
        DAILY = "daily", _("A daily digest")
        NONE = "none", _("No e-mail")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="email_preference",
    )
    delivery = models.CharField(_("e-mail delivery"), max_length=16, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("e-mail preference")
        verbose_name_plural = _("e-mail preferences")

    def __str__(self):
        return f"{self.user_id}: {self.delivery}"


class Digest(models.Model):
    """One digest sent to one user on one (local) day: the record that makes the digest jobs
    idempotent (one per user, kind and day) and says what was sent and up to when."""

    class Kind(models.TextChoices):
        # "N new check-ins are waiting for your review": an in-app notification (tasks.digest).
        QUEUE = "queue", _("Review queue digest")
        # One e-mail listing the notifications since the last one (notifications.digests).
        EMAIL = "email", _("E-mail digest")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="digests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    day = models.DateField(_("day"))
    # Everything up to this time is covered: the next digest tells only what came after.
    covers_until = models.DateTimeField(_("covers until"))
    # How many new items (queue) or notifications (e-mail) it told of, and, for the queue,
    # how many waited in all.
    new_count = models.PositiveIntegerField(_("new items"), default=0)
    total_count = models.PositiveIntegerField(_("items in all"), default=0)
    notification = models.OneToOneField(
        Notification, verbose_name=_("notification"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        constraints = [models.UniqueConstraint(fields=["recipient", "kind", "day"], name="digest_once_a_day")]
        indexes = [models.Index(fields=["recipient", "kind", "-covers_until"], name="digest_latest")]

    def __str__(self):
        return f"{self.recipient_id} {self.kind} {self.day}"


class OutgoingEmail(models.Model):
    """One notification e-mail, written in the transaction of the event it tells about and
    sent from here (notifications/outbox.py): a broker or database outage delays it, never loses it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Gave up")

    # The notification it sends, or, for a daily digest e-mail, the digest (exactly one of the two).
    notification = models.OneToOneField(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="email", null=True, blank=True
    )
    digest = models.OneToOneField(
        Digest, verbose_name=_("digest"), on_delete=models.CASCADE, related_name="email", null=True, blank=True
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
        constraints = [
            models.CheckConstraint(
                condition=Q(notification__isnull=False, digest__isnull=True) | Q(notification__isnull=True, digest__isnull=False),
                name="outgoing_email_of_one_thing",
            ),
        ]

    def __str__(self):
        return f"{self.to}: {self.subject}"
