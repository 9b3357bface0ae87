"""The preview (dry run) of an uploaded sheet as a job: computed once, with progress, stored.

A city's 20,000-row sheet takes seconds to read, clean and compare; the preview page used to
do it on every load. Now the upload records an ImportPreview and enqueues a Celery task
(spreadsheets.celery_tasks.run_import_preview, which calls run_preview() here; eager in the
demo, a worker in production) exactly like an export job (spreadsheets.exports.jobs). The
page polls its progress, then shows the stored result on every load; the error workbook of
the rejected rows is written by the same run; the confirm compares the preview's
fingerprint with what the sheet would do at that moment (services.apply_import).
"""

import datetime
import logging
from typing import Any

from celery import Task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from chanjgai_portal import broker
from enterprises.models import Profile
from tasks.evidence_files import staged_files

from ..models import ImportPreview
from . import services, uploads, workbooks
from .sheets import Preview, SpreadsheetRejected

logger = logging.getLogger(__name__)


def start_preview(user: AbstractBaseUser, kind: str, upload: uploads.Upload, *, run_task: Task | None) -> ImportPreview:
    """Record the preview of a stored upload and enqueue `run_task` for it once committed
    (never failing the request: if the enqueue fails, sweep_pending_previews starts it)."""
    record = ImportPreview.objects.create(
        requester=user, kind=kind, token=upload.token, language=get_language() or settings.LANGUAGE_CODE
    )
    if run_task is not None:
        transaction.on_commit(lambda: enqueue_preview(record.pk, run_task=run_task))
    return record


def enqueue_preview(preview_id: int, *, run_task: Task) -> bool:
    return broker.enqueue(run_task, (preview_id,), what=f"import preview {preview_id}")


def sweep_pending_previews(*, run_task: Task, now: datetime.datetime | None = None) -> list[int]:
    """Enqueue again the previews still queued EXPORT_SWEEP_GRACE seconds after the upload."""
    cutoff = (now or timezone.now()) - datetime.timedelta(seconds=settings.EXPORT_SWEEP_GRACE)
    ids = list(
        ImportPreview.objects.filter(status=ImportPreview.Status.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for preview_id in ids:
        enqueue_preview(preview_id, run_task=run_task)
    return ids


def run_preview(preview_id: int, redelivered: bool = False) -> ImportPreview | None:
    """Compute and store a preview, updating its progress; a finished one is left alone
    (a reload, a second copy of the task), a running one is run again only on redelivery."""
    record = ImportPreview.objects.select_related("requester").filter(pk=preview_id).first()
    if record is None or record.is_finished:
        return record
    runnable = [ImportPreview.Status.PENDING] + ([ImportPreview.Status.RUNNING] if redelivered else [])
    if not ImportPreview.objects.filter(pk=record.pk, status__in=runnable).update(
        status=ImportPreview.Status.RUNNING, progress=0
    ):
        return record
    last = {"percent": 0}

    def progress(percent):
        percent = min(99, int(percent) // 5 * 5)  # whole steps of 5 %: at most 20 updates
        if percent > last["percent"]:
            last["percent"] = percent
            ImportPreview.objects.filter(pk=record.pk).update(progress=percent)

    user = record.requester
    try:
        with translation.override(record.language or settings.LANGUAGE_CODE):
            stored = uploads.upload_for(user, record.token)
            if stored is None:
                return _fail(record, _("This upload is gone. Upload the file again."), "gone")
            importer = services.importer_for(user, record.kind)
            try:
                with stored.local_copy() as path:
                    preview, _existing = importer.validate(path, progress)
            except SpreadsheetRejected as rejected:
                uploads.discard_upload(user, record.token)
                return _fail(record, rejected.message, rejected.code)
            with staged_files() as staged:
                if preview.errors:
                    staged.save(record.error_file, "errors.xlsx", ContentFile(workbooks.error_workbook(importer, preview)))
                record.result = preview.as_json()
                record.fingerprint = preview.fingerprint()
                record.created, record.updated, record.unchanged = preview.created, preview.updated, preview.unchanged
                record.error_rows = preview.error_rows
                record.status = ImportPreview.Status.DONE
                record.progress = 100
                record.finished_at = timezone.now()
                record.save(
                    update_fields=[
                        "error_file", "result", "fingerprint", "created", "updated", "unchanged", "error_rows",
                        "status", "progress", "finished_at",
                    ]
                )
    except PermissionDenied as error:  # no longer the city office
        return _fail(record, str(error), "forbidden")
    except Exception:
        _fail(record, _("The preview failed. Please upload the file again."), "failed")
        logger.exception("import preview %s failed", record.pk)
        raise
    return record


def _fail(record: ImportPreview, message: str, code: str) -> ImportPreview:
    ImportPreview.objects.filter(pk=record.pk).update(
        status=ImportPreview.Status.FAILED, error=message, rejected_code=code, finished_at=timezone.now()
    )
    record.refresh_from_db()
    return record


def previews_for(user: AbstractBaseUser) -> QuerySet[ImportPreview]:
    """The user's own previews: everyone else's (another office, another city) do not exist for them."""
    if Profile.for_user(user) is None:
        return ImportPreview.objects.none()
    return ImportPreview.objects.filter(requester=user)


def preview_of_upload(user: AbstractBaseUser, kind: str, token: str) -> ImportPreview | None:
    """The latest preview of the user's upload `token`, or None."""
    return previews_for(user).filter(kind=kind, token=token).order_by("-created_at", "-pk").first()


def stored_preview(record: ImportPreview) -> Preview:
    """The stored result, as the Preview the page and the confirm read (no file is opened)."""
    return Preview.from_json(record.result or {})


def discard_old_error_files(now: datetime.datetime | None = None) -> int:
    """Delete the error workbooks of previews older than IMPORT_UPLOADS_KEEP_HOURS (their
    uploads are gone by then too); the rows stay. Returns how many files were deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=settings.IMPORT_UPLOADS_KEEP_HOURS)
    removed = 0
    for record in ImportPreview.objects.filter(created_at__lt=cutoff).exclude(error_file="").only("pk", "error_file"):
        name = record.error_file.name
        if not ImportPreview.objects.filter(pk=record.pk, error_file=name).update(error_file=""):
            continue
        try:
            record.error_file.storage.delete(name)
        except Exception:  # one unreachable file must not stop the others
            logger.exception("could not delete the error workbook %s", name)
            continue
        removed += 1
    return removed


def describe(record: ImportPreview) -> dict[str, Any]:
    """The status JSON polled by the preview page while the job runs."""
    return {
        "status": record.status,
        "status_label": str(record.get_status_display()),
        "progress": record.progress,
        "finished": record.is_finished,
        "error": record.error,
    }
