"""Celery jobs of the spreadsheets app: thin wrappers around spreadsheets.imports.uploads and
spreadsheets.exports.jobs.

The task names keep the app each job was first written in ("enterprises.", "scoring."):
queued messages and CELERY_BEAT_SCHEDULE use them.
"""

from celery import shared_task

from .exports import jobs
from .imports import previews
from .imports.uploads import discard_stale_uploads


@shared_task(name="enterprises.discard_stale_import_uploads")
def discard_stale_import_uploads() -> int:
    """Delete uploaded sheets that were never imported (spreadsheets.imports.uploads.discard_stale_uploads)
    and the error workbooks of their previews (previews.discard_old_error_files)."""
    return discard_stale_uploads() + previews.discard_old_error_files()


@shared_task(name="spreadsheets.run_import_preview", bind=True)
def run_import_preview(self, preview_id):
    """Compute and store an upload's preview (previews.run_preview); a finished one is left alone."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    record = previews.run_preview(preview_id, redelivered=redelivered)
    return record.status if record is not None else None


@shared_task(name="spreadsheets.sweep_pending_import_previews")
def sweep_pending_import_previews():
    """Beat job: start the import previews whose enqueue failed or was lost."""
    return previews.sweep_pending_previews(run_task=run_import_preview)


@shared_task(name="scoring.run_export_job", bind=True)
def run_export_job(self, job_id):
    """Write an export job's spreadsheet (jobs.run_job); a finished job is left alone."""
    # Set by the broker on a job given out again after its worker died (visibility timeout).
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    job = jobs.run_job(job_id, redelivered=redelivered)
    return job.status if job is not None else None


@shared_task(name="scoring.sweep_pending_exports")
def sweep_pending_exports():
    """Beat job: start the export jobs whose enqueue failed or was lost."""
    return jobs.sweep_pending_jobs(run_task=run_export_job)


@shared_task(name="scoring.remove_old_export_files")
def remove_old_export_files():
    """Delete the files of old exports, keeping their rows (jobs.remove_old_export_files)."""
    return jobs.remove_old_export_files()
