"""Celery jobs of the channels: thin wrappers around notices.services, safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mass_mail
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)

REMINDER_BATCH_SIZE = 5000


@shared_task(name="notices.send_deadline_reminders")
def send_deadline_reminders():
    """Beat job: the 7-day and 1-day deadline reminders, once per assignment, threshold and user."""
    from .services import send_deadline_reminders as run

    return run()


# emailed_at makes a retry skip what an earlier try already sent (all or nothing per call).
@shared_task(
    name="notices.send_notification_emails",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_notification_emails(notification_ids):
    """Email the given notifications to recipients with an address; each one at most once."""
    notifications = list(
        Notification.objects.filter(pk__in=notification_ids, emailed_at__isnull=True)
        .exclude(recipient__email="")
        .select_related("recipient")
    )
    if not notifications:
        return 0
    base = getattr(settings, "PORTAL_BASE_URL", "").rstrip("/")
    subject_prefix = settings.EMAIL_SUBJECT_PREFIX
    messages = []
    for notification in notifications:
        body = notification.text
        if notification.link:
            body += f"\n\n{base}{notification.link}"
        messages.append(
            (
                f"{subject_prefix}{notification.get_kind_display()}",
                body,
                settings.DEFAULT_FROM_EMAIL,
                [notification.recipient.email],
            )
        )
    sent = send_mass_mail(messages, fail_silently=False)
    Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=timezone.now())
    return sent
