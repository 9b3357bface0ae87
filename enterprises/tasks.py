"""Celery jobs of the enterprises app."""

from celery import shared_task

from . import security


@shared_task(name="enterprises.delete_expired_api_tokens")
def delete_expired_api_tokens():
    """Delete API tokens past their expiry that nobody sent again (security.delete_expired_tokens)."""
    return security.delete_expired_tokens()
