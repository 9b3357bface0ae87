"""Celery jobs of the notices app: thin wrappers, safe to run twice."""

from celery import shared_task

from . import reminders


@shared_task(name="notices.send_deadline_reminders")
def send_deadline_reminders():
    """Beat job: the 7-day and 1-day deadline reminders, once per assignment, threshold and user."""
    return reminders.send_deadline_reminders()
