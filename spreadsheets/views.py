"""The spreadsheet pages: the offices' page (templates, upload → preview (dry run) → confirm
of imports, the export links), the ranking and completion downloads and an export job's
pages. The rules are in spreadsheets.imports and spreadsheets.exports."""

from types import SimpleNamespace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from enterprises import capabilities
from enterprises.inputs import profile_or_403
from scoring import selectors
from tasks import selectors as task_selectors
from tasks.upload_handlers import upload_refusal

from .celery_tasks import run_export_job, run_import_preview
from .cells import XLSX_CONTENT_TYPE
from .exports import jobs, specs, writer
from .imports import previews, services, uploads
from .imports.sheets import MAX_ROWS, SpreadsheetRejected
from .models import ExportJob


def _office(request):
    """The profile of a reform office user; 403 for everyone else (liaisons, observers)."""
    profile = profile_or_403(request.user)
    if not capabilities.may_export(profile):
        raise PermissionDenied(_("Only reform offices can use spreadsheets."))
    return profile


def _importer(request, kind):
    _office(request)
    try:
        return services.importer_for(request.user, kind)
    except LookupError:
        raise Http404(_("No such kind of sheet.")) from None


def _index_context(request, profile):
    period = selectors.period_for(profile, request.GET.get("period"))
    return {
        "profile": profile,
        "period": period,
        "periods": task_selectors.periods_for(profile),
        "counties": list(selectors.counties_for(profile).order_by("order", "code")),
        "kinds": [services.importer_for(request.user, kind) for kind in services.KINDS] if capabilities.may_import(profile) else [],
        "max_rows": MAX_ROWS,
    }


@require_GET
@login_required
def index(request):
    """Import cards (city office) and export links (city and county offices)."""
    profile = _office(request)
    return render(request, "spreadsheets/index.html", _index_context(request, profile))


@require_GET
@login_required
def template(request, kind):
    """The .xlsx template of a kind of sheet: its headers and an example row."""
    importer = _importer(request, kind)
    response = HttpResponse(services.template_workbook(request.user, kind), content_type=XLSX_CONTENT_TYPE)
    filename = _("%(kind)s template") % {"kind": importer.title}
    response["Content-Disposition"] = content_disposition_header(True, f"{filename}.xlsx")
    return response


@require_POST
@login_required
def upload(request, kind):
    """Keep the uploaded sheet under a generated name and start its preview (a job)."""
    _importer(request, kind)
    uploaded = request.FILES.get("file")
    error, status = None, 400
    refusal = upload_refusal(request)  # the upload was stopped at a size or count limit
    if refusal is not None:
        error, status = refusal.message, refusal.status
    elif uploaded is None:
        error = _("Choose a file to upload.")
    else:
        try:
            stored = uploads.store_upload(request.user, uploaded)
        except SpreadsheetRejected as rejected:
            error = rejected.message
    if error:
        context = _index_context(request, profile_or_403(request.user))
        context.update(upload_error=error, upload_kind=kind)
        return render(request, "spreadsheets/index.html", context, status=status)
    previews.start_preview(request.user, kind, stored, run_task=run_import_preview)
    return redirect("spreadsheets:preview", kind=kind, token=stored.token)


SHOW_CHOICES = ("all", "error", "update", "create", "unchanged")
ROWS_SHOWN = 200


def _render_preview(request, importer, token, record=None, preview=None, rejected=None, refused=False, status=200):
    show = request.GET.get("show")
    if preview is not None and show not in SHOW_CHOICES:
        show = "error" if preview.errors else "all"
    rows = [] if preview is None else [r for r in preview.rows if show == "all" or r.action == show]
    counts = []
    if preview is not None:
        counts = [
            ("all", _("rows in all"), len(preview.rows)),
            ("create", _("to create"), preview.created),
            ("update", _("to update"), preview.updated),
            ("unchanged", _("unchanged (skipped)"), preview.unchanged),
            ("error", _("rows with errors"), preview.error_rows),
        ]
    return render(
        request,
        "spreadsheets/preview.html",
        {
            "importer": importer, "token": token, "record": record, "preview": preview, "rejected": rejected,
            "refused": refused, "show": show, "counts": counts, "rows": rows[:ROWS_SHOWN], "rows_total": len(rows),
            "rows_shown": ROWS_SHOWN,
            "can_confirm": preview is not None and uploads.upload_for(request.user, token) is not None,
        },
        status=status,
    )


def _upload_or_404(request, token):
    """The user's stored sheet behind `token` (uploads are per user), or 404."""
    stored = uploads.upload_for(request.user, token)
    if stored is None:
        raise Http404(_("This upload is gone. Upload the file again."))
    return stored


def _preview_or_404(request, kind, token):
    """The latest preview of the user's own upload (another user's, another city's: 404)."""
    record = previews.preview_of_upload(request.user, kind, token)
    if record is None:
        raise Http404(_("This upload is gone. Upload the file again."))
    return record


def _rejected(record):
    return SimpleNamespace(code=record.rejected_code, message=record.error)


@require_GET
@login_required
def preview(request, kind, token):
    """The dry run, computed once by a job: its progress while it runs, then the stored rows to
    create, update (each field old → new) and leave unchanged, and every bad cell."""
    importer = _importer(request, kind)
    record = _preview_or_404(request, kind, token)
    if record.status == record.Status.FAILED:
        return _render_preview(request, importer, token, record, rejected=_rejected(record), status=400)
    if not record.is_finished:
        return _render_preview(request, importer, token, record)
    result = previews.stored_preview(record)
    # 400 while a sheet with errors waits to be confirmed; 200 once it was imported (valid rows only).
    pending = uploads.upload_for(request.user, token) is not None
    return _render_preview(request, importer, token, record, preview=result, status=400 if pending and not result.ok else 200)


@require_GET
@login_required
def preview_status(request, kind, token):
    """The preview job's progress as JSON, polled by static/js/import_preview.js."""
    _importer(request, kind)
    record = previews.previews_for(request.user).defer("result").filter(kind=kind, token=token).order_by("-pk").first()
    if record is None:
        raise Http404(_("This upload is gone. Upload the file again."))
    return JsonResponse(previews.describe(record))


@require_GET
@login_required
def preview_errors(request, kind, token):
    """The error workbook of the preview: its rejected rows with what is wrong in each cell."""
    importer = _importer(request, kind)
    record = _preview_or_404(request, kind, token)
    if not record.error_file:
        raise Http404(_("This sheet has no rows with errors."))
    filename = _("%(kind)s rows to correct") % {"kind": importer.title}
    return FileResponse(
        record.error_file.open("rb"), as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_CONTENT_TYPE
    )


@require_POST
@login_required
def confirm(request, kind, token):
    """Apply the previewed sheet in one transaction. Refused (nothing changed) if a row is bad,
    unless the office ticked "import only the valid rows"; if the data changed since the
    preview, a new preview is computed and shown instead."""
    importer = _importer(request, kind)
    record = _preview_or_404(request, kind, token)
    stored = _upload_or_404(request, token)
    if record.status != record.Status.DONE:
        return redirect("spreadsheets:preview", kind=kind, token=token)
    skip_errors = request.POST.get("skip_errors") in ("1", "on")
    if record.error_rows and not skip_errors:
        return _render_preview(
            request, importer, token, record, preview=previews.stored_preview(record), refused=True, status=400
        )
    try:
        with stored.local_copy() as path:
            result = services.apply_import(
                request.user, kind, path, skip_errors=skip_errors, expected=record.fingerprint
            )
    except SpreadsheetRejected as rejected:
        uploads.discard_upload(request.user, token)
        return _render_preview(request, importer, token, record, rejected=rejected, status=400)
    except services.ImportRefused:
        return _render_preview(
            request, importer, token, record, preview=previews.stored_preview(record), refused=True, status=400
        )
    except services.PreviewOutdated:
        previews.start_preview(request.user, kind, stored, run_task=run_import_preview)
        messages.warning(
            request,
            _("The data changed since this preview, so nothing was imported. Check the new preview and confirm again."),
        )
        return redirect("spreadsheets:preview", kind=kind, token=token)
    uploads.discard_upload(request.user, token)
    summary = _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
        "created": result.created, "updated": result.updated, "unchanged": result.unchanged
    }
    if kind == "enterprises":
        summary += ngettext(
            "%(count)s check-in task was created for the enterprises new in the reform.",
            "%(count)s check-in tasks were created for the enterprises new in the reform.",
            result.tasks_created,
        ) % {"count": result.tasks_created}
    if result.account_sheet is not None:
        # The new accounts' initial passwords: the result is their sheet, to hand out.
        summary += ngettext(
            "%(count)s new account got an initial password: download the account sheet and hand it out.",
            "%(count)s new accounts got an initial password: download the account sheet and hand it out.",
            result.account_sheet.accounts,
        ) % {"count": result.account_sheet.accounts}
    if result.skipped:
        summary += ngettext(
            "%(count)s row with errors was not imported: correct it in the error workbook and upload that.",
            "%(count)s rows with errors were not imported: correct them in the error workbook and upload that.",
            result.skipped,
        ) % {"count": result.skipped}
        if result.account_sheet is not None:
            summary += _("The account sheet is waiting on the Account management page.")
        messages.success(request, summary)
        return redirect("spreadsheets:preview", kind=kind, token=token)  # where the error workbook is
    if result.account_sheet is not None:
        messages.success(request, summary)
        return redirect("accounts:sheet", result.account_sheet.pk)
    messages.success(request, summary)
    return redirect("spreadsheets:index")


# --- Exports ------------------------------------------------------------------------------


def _export(request, kind):
    """Stream a sheet in the user's scope, or, from SPREADSHEET_EXPORT_JOB_THRESHOLD rows on,
    start an export job and show its progress page."""
    spec = specs.resolve(request.user, kind, request.GET)
    if spec.total >= jobs.job_threshold():
        job = jobs.start_job(request.user, kind, request.GET, run_task=run_export_job)
        return redirect("scoring:export_job", pk=job.pk)
    # FileResponse writes the non-ASCII name as filename*=utf-8''… (RFC 5987 / 6266).
    return FileResponse(
        writer.export_to_tempfile(spec), as_attachment=True, filename=spec.filename, content_type=XLSX_CONTENT_TYPE
    )


@require_GET
@login_required
def export_counties(request):
    """The county ranking of the period's latest snapshot as an .xlsx file."""
    return _export(request, ExportJob.Kind.COUNTY_RANKING)


@require_GET
@login_required
def export_enterprises(request):
    """The enterprise ranking in the user's scope (optionally one county) as an .xlsx file."""
    return _export(request, ExportJob.Kind.ENTERPRISE_RANKING)


@require_GET
@login_required
def export_matrix(request):
    """Enterprises × indicators of the period (?cells=points for points instead of states) as an .xlsx file."""
    return _export(request, ExportJob.Kind.COMPLETION_MATRIX)


def _own_job(request, pk):
    return get_object_or_404(jobs.jobs_for(request.user), pk=pk)


@require_GET
@login_required
def export_job(request, pk):
    """An export job's progress page; the file is offered once it is ready."""
    job = _own_job(request, pk)
    return render(
        request, "spreadsheets/export_job.html", {"job": job, "export_keep_days": settings.EXPORT_FILES_KEEP_DAYS}
    )


@require_GET
@login_required
def export_job_status(request, pk):
    """The job's status as JSON, polled by static/js/export_job.js."""
    job = _own_job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "progress": job.progress,
            "finished": job.is_finished,
            "download_url": reverse("scoring:export_job_download", args=[job.pk]) if job.is_downloadable else None,
            "error": job.error,
        }
    )


@require_GET
@login_required
def export_job_download(request, pk):
    """The job's file, as an attachment, for its requester only (404 for anyone else)."""
    job = _own_job(request, pk)
    if job.file_removed:
        days = settings.EXPORT_FILES_KEEP_DAYS
        raise Http404(_("This spreadsheet was deleted after %(days)s days. Export it again.") % {"days": days})
    if not job.is_downloadable:
        raise Http404(_("The file is not ready."))
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename, content_type=XLSX_CONTENT_TYPE)
