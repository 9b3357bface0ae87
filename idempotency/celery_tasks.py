"""Housekeeping of idempotency keys."""

from celery import shared_task

from . import keys


@shared_task(name="idempotency.remove_old_keys")
def remove_old_keys():
    """Beat job: forget keys older than IDEMPOTENCY_KEYS_KEEP_HOURS (keys.remove_old_keys)."""
    return keys.remove_old_keys()
