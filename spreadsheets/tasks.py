"""Celery jobs of the spreadsheets app."""

from celery import shared_task

from .imports.uploads import discard_stale_uploads


# The name keeps the app the sweep was first written in: beat and queued messages use it.
@shared_task(name="enterprises.discard_stale_import_uploads")
def discard_stale_import_uploads() -> int:
    """Delete uploaded sheets that were never imported (spreadsheets.imports.uploads.discard_stale_uploads)."""
    return discard_stale_uploads()
