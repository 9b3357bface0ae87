"""Celery jobs of the enterprises app."""

from celery import shared_task

from .imports import discard_stale_uploads


@shared_task(name="enterprises.discard_stale_import_uploads")
def discard_stale_import_uploads():
    """Delete uploaded sheets that were never imported (enterprises.imports.discard_stale_uploads)."""
    return discard_stale_uploads()
