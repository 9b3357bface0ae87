"""Export jobs: a sheet too large for one request is written by a Celery job.

An export of `SPREADSHEET_EXPORT_JOB_THRESHOLD` rows or more (default 10,000) runs as an
ExportJob: start_job() records it and enqueues the Celery task it is given
(spreadsheets.celery_tasks.run_export_job, which calls run_job() here). The task is passed in, so
this module never imports the Celery module that imports it.
"""

import datetime
import logging
import tempfile
from collections.abc import Mapping

from celery import Task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chanjgai_portal import broker
from enterprises.models import Profile
from tasks.evidence_files import staged_files

from ..models import ExportJob
from .specs import resolve
from .writer import write_xlsx

logger = logging.getLogger(__name__)


def job_threshold() -> int:
    """From this many rows on, an export runs as a job instead of in the request."""
    return getattr(settings, "SPREADSHEET_EXPORT_JOB_THRESHOLD", 10_000)


def clean_params(params: Mapping) -> dict[str, str]:
    """Only the parameters an export reads, as strings (they are stored as JSON)."""
    return {key: str(params[key]) for key in ("period", "county", "cells") if params.get(key) not in (None, "")}


def start_job(user: AbstractBaseUser, kind: str, params: Mapping, *, run_task: Task) -> ExportJob:
    """Record an export job for the user and enqueue `run_task` for it once the record is
    committed (never failing or stalling the request: if the enqueue fails,
    sweep_pending_jobs starts it)."""
    job = ExportJob.objects.create(requester=user, kind=kind, params=clean_params(params))
    transaction.on_commit(lambda: enqueue_job(job.pk, run_task=run_task))
    return job


def enqueue_job(job_id: int, *, run_task: Task) -> bool:
    """Enqueue `run_task` for the job (chanjgai_portal.broker: briefly, never raising)."""
    return broker.enqueue(run_task, (job_id,), what=f"export job {job_id}")


def sweep_pending_jobs(*, run_task: Task, now: datetime.datetime | None = None) -> list[int]:
    """Enqueue again the export jobs still queued EXPORT_SWEEP_GRACE seconds after they were
    requested: their enqueue failed (Redis down) or the queued job was lost. A job that is
    also still in the queue then runs once and the copy finds it done. Returns their ids."""
    cutoff = (now or timezone.now()) - datetime.timedelta(seconds=settings.EXPORT_SWEEP_GRACE)
    ids = list(
        ExportJob.objects.filter(status=ExportJob.Status.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        logger.info("Sweep: export job %s was never started; enqueueing it again", job_id)
        enqueue_job(job_id, run_task=run_task)
    return ids


def run_job(job_id: int, redelivered: bool = False) -> ExportJob | None:
    """Write a job's file, updating its progress; the requester's scope is checked again now.

    A queued job is taken by one run only (a second copy, e.g. enqueued again by the sweep,
    leaves it alone); a running one is run again only by a redelivery (its worker died).
    """
    job = ExportJob.objects.select_related("requester").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.DONE:
        return job
    runnable = [ExportJob.Status.PENDING, ExportJob.Status.FAILED]
    if redelivered:
        runnable.append(ExportJob.Status.RUNNING)
    claimed = ExportJob.objects.filter(pk=job.pk, status__in=runnable).update(
        status=ExportJob.Status.RUNNING, progress=0, error=""
    )
    if not claimed:
        return job
    try:
        spec = resolve(job.requester, job.kind, job.params)
        total = max(spec.total, 1)
        last = {"percent": 0}

        def progress(rows_written):
            # Only whole steps of 5 %: a bounded number of updates whatever the size.
            percent = min(99, rows_written * 100 // total // 5 * 5)
            if percent > last["percent"]:
                last["percent"] = percent
                ExportJob.objects.filter(pk=job.pk).update(progress=percent)

        # Staged (tasks.evidence_files): a worker killed between the file and the row leaves
        # no file the portal does not know about.
        with staged_files() as staged:
            with tempfile.TemporaryFile(suffix=".xlsx") as out:
                rows = write_xlsx(out, spec, progress)
                out.seek(0)
                staged.save(job.file, "export.xlsx", File(out))
            job.filename = spec.filename
            job.row_count = rows
            job.status = ExportJob.Status.DONE
            job.progress = 100
            job.finished_at = timezone.now()
            job.save(update_fields=["file", "filename", "row_count", "status", "progress", "finished_at"])
    except (PermissionDenied, Http404) as error:
        _fail(job, str(error) or _("You may no longer export this sheet."))
    except Exception as error:  # recorded on the job, then re-raised for the log
        _fail(job, _("The export failed. Please try again."))
        logger.exception("export job %s failed", job.pk)
        raise error
    return job


def remove_old_export_files(now: datetime.datetime | None = None) -> int:
    """Delete the files of exports that finished more than EXPORT_FILES_KEEP_DAYS ago.

    An export is a copy of figures the portal keeps anyway, and every request writes a new
    file, so without this the storage only grows. The job row stays (who exported what, and
    when); its page says the file was removed and the sheet can be exported again. Returns
    how many files were removed.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.EXPORT_FILES_KEEP_DAYS)
    removed = 0
    jobs = ExportJob.objects.filter(status=ExportJob.Status.DONE, finished_at__lt=cutoff).exclude(file="")
    for job in jobs.only("pk", "file").iterator():
        name = job.file.name
        # The row first: a row without its file would offer a download that fails.
        if not ExportJob.objects.filter(pk=job.pk, file=name).update(file=""):
            continue
        try:
            job.file.storage.delete(name)
        except Exception:  # one unreachable file must not stop the others
            logger.exception("could not delete the file %s of export job %s", name, job.pk)
            continue
        removed += 1
    return removed


def _fail(job, message):
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.FAILED, error=message, finished_at=timezone.now())


def jobs_for(user: AbstractBaseUser) -> QuerySet[ExportJob]:
    """The user's own export jobs: everyone else's do not exist for them."""
    if Profile.for_user(user) is None:
        return ExportJob.objects.none()
    return ExportJob.objects.filter(requester=user)
