"""Celery jobs of the tasks app: the housekeeping of stored files (tasks.evidence_audit) and
the evidence previews (tasks.previews)."""

from celery import shared_task

from . import digest as review_digest
from .evidence_audit import audit_files, sweep_staged_files
from .previews import make_previews, sweep_pending


@shared_task(name="tasks.sweep_staged_evidence_files")
def sweep_staged_evidence_files():
    """Settle the staged files of submissions that never finished; remove old temporary uploads."""
    result = sweep_staged_files()
    return {"settled": result.staged_settled, "deleted": len(result.staged_files_deleted),
            "temporary_deleted": result.temporary_files_deleted}


@shared_task(name="tasks.audit_evidence_files")
def audit_evidence_files():
    """Log stored files that no row names and rows whose file is missing (report only)."""
    result = audit_files()
    return {"files": result.files_checked, "rows": result.rows_checked,
            "unknown_files": len(result.unknown_files), "rows_without_file": len(result.rows_without_file)}


@shared_task(name="tasks.make_evidence_previews")
def make_evidence_previews(evidence_ids):
    """Make the thumbnails and page images of these evidence files (tasks.previews); a file
    that has them already is left alone, so a redelivered job changes nothing."""
    return {str(pk): make_previews(pk) for pk in evidence_ids}


@shared_task(name="tasks.sweep_pending_previews")
def sweep_pending_previews():
    """Make the previews whose job was never enqueued (Redis down at submission)."""
    return {"tried": sweep_pending()}


@shared_task(name="tasks.send_review_digests")
def send_review_digests():
    """Beat job (hourly): each reviewer's daily "new check-ins waiting" digest, once a day."""
    return review_digest.send_review_digests()
