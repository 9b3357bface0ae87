"""Celery jobs of the enterprises app."""

from celery import shared_task

from . import security
from .imports import discard_stale_uploads


@shared_task(name="enterprises.discard_stale_import_uploads")
def discard_stale_import_uploads():
    """Delete uploaded sheets that were never imported (enterprises.imports.discard_stale_uploads)."""
    return discard_stale_uploads()


@shared_task(name="enterprises.delete_expired_api_tokens")
def delete_expired_api_tokens():
    """Delete API tokens past their expiry that nobody sent again (security.delete_expired_tokens)."""
    return security.delete_expired_tokens()
