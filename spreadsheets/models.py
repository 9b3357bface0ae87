"""Spreadsheet exports too large for one request, run as a Celery job (spreadsheets.exports.jobs)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def export_upload_to(instance, filename):
    """Stored under a generated name: only the requester can reach it, through the download view."""
    return f"exports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.xlsx"


class ExportJob(models.Model):
    """One requested export: what, for whom, how far it is, and the file once written."""

    class Kind(models.TextChoices):
        COUNTY_RANKING = "counties", _("County ranking")
        ENTERPRISE_RANKING = "enterprises", _("Enterprise ranking")
        COMPLETION_MATRIX = "matrix", _("Completion matrix")

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to=export_upload_to, max_length=255, blank=True)
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        # The model moved here from scoring; its table kept its name (migrations
        # scoring 0008 and spreadsheets 0001 only move it in Django's state).
        db_table = "scoring_exportjob"
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["requester", "-created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_downloadable(self):
        return self.status == self.Status.DONE and bool(self.file)

    @property
    def file_removed(self):
        """Written, and deleted since by spreadsheets.exports.jobs.remove_old_export_files."""
        return self.status == self.Status.DONE and not self.file


def preview_error_file_to(instance, filename):
    """Stored under a generated name: only the requester can reach it, through the download view."""
    return f"import-errors/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.xlsx"


class ImportPreview(models.Model):
    """The dry run of one uploaded sheet, computed once by a job (spreadsheets.imports.previews):
    its progress, then the stored result that the preview page shows on every load and the
    confirm checks (its fingerprint), and the error workbook of its rejected rows."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=32)
    token = models.CharField(_("upload"), max_length=64)
    language = models.CharField(_("language"), max_length=16, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    created = models.PositiveIntegerField(_("to create"), default=0)
    updated = models.PositiveIntegerField(_("to update"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error_file = models.FileField(_("error workbook"), upload_to=preview_error_file_to, max_length=255, blank=True)
    rejected_code = models.CharField(_("refusal code"), max_length=32, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import preview")
        verbose_name_plural = _("import previews")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["requester", "token"])]

    def __str__(self):
        return f"{self.kind} #{self.pk}"

    @property
    def is_finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)
