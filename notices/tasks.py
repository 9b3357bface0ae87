"""Celery jobs of the channels: thin wrappers around notices.services, safe to run twice."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

REMINDER_BATCH_SIZE = 5000


@shared_task(name="notices.send_deadline_reminders")
def send_deadline_reminders():
    """Beat job: the 7-day and 1-day deadline reminders, once per assignment, threshold and user."""
    from .services import send_deadline_reminders as run

    return run()
