"""Celery jobs of login security."""

from celery import shared_task

from . import security


# The name is the one it had in the enterprises app: CELERY_BEAT_SCHEDULE and queued messages use it.
@shared_task(name="enterprises.delete_expired_api_tokens")
def delete_expired_api_tokens():
    """Delete API tokens past their expiry that nobody sent again (security.delete_expired_tokens)."""
    return security.delete_expired_tokens()
