"""The import service: one entry point per step for every kind of sheet.

    upload = uploads.store_upload(user, uploaded_file)   # kept in the default storage, imports/<user>/
    with upload.local_copy() as path:
        preview = preview_import(user, "enterprises", path)   # the dry run: nothing written
    with upload.local_copy() as path:
        apply_import(user, "enterprises", path)         # re-validates, then ONE transaction

A sheet with any bad row changes nothing: apply_import refuses it, unless the office chose to
import only its valid rows (skip_errors). The preview of an upload is computed once, by a job
(spreadsheets.imports.previews), and stored; the confirm checks it still holds.
"""

from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from . import workbooks
from .enterprises import EnterpriseImport
from .indicators import IndicatorImport
from .offices import CountyOfficeImport
from .sheets import Preview, SheetImport


class ImportRefused(Exception):
    """apply_import was asked to write a sheet that has bad rows: nothing was written."""

    def __init__(self, preview):
        super().__init__(gettext("The sheet has errors; nothing was imported."))
        self.preview = preview


class PreviewOutdated(Exception):
    """The database (or the file) changed since the preview the office confirmed: confirming
    now would do something it did not see, so nothing was written."""

    def __init__(self, preview):
        super().__init__(gettext("The data changed since the preview; nothing was imported."))
        self.preview = preview


KINDS = {cls.kind: cls for cls in (EnterpriseImport, IndicatorImport, CountyOfficeImport)}


def importer_for(user: Any, kind: str) -> SheetImport:
    """The import of `kind` for the user; PermissionDenied unless a city office, LookupError for an unknown kind."""
    if kind not in KINDS:
        raise LookupError(kind)
    return KINDS[kind](user)


def preview_import(user: Any, kind: str, path: str | Path, progress: Any = None) -> Preview:
    """The dry run: what confirming the sheet would create, update (each field old → new) and
    leave unchanged, and every bad row. `progress(percent)`: see SheetImport.validate."""
    preview, _existing = importer_for(user, kind).validate(path, progress)
    return preview


def apply_import(
    user: Any, kind: str, path: str | Path, *, skip_errors: bool = False, expected: str | None = None
) -> Preview:
    """Validate the sheet again and write it in one transaction.

    Refused, with nothing written: ImportRefused if a row is bad (unless `skip_errors`: the
    office chose to import only the valid rows; they are written and the others counted in
    `skipped`, unless none is valid); PreviewOutdated if `expected` (the confirmed preview's
    fingerprint) differs from what the sheet would do now, against the database as it is in
    this transaction (someone changed an enterprise meanwhile: the office sees it first).
    """
    importer = importer_for(user, kind)
    with transaction.atomic():
        preview, existing = importer.validate(path)
        if expected is not None and preview.fingerprint() != expected:
            raise PreviewOutdated(preview)
        if not preview.ok and (not skip_errors or not preview.valid_rows):
            raise ImportRefused(preview)
        preview.skipped = preview.error_rows
        # write() leaves the rows with errors out (their action is "error").
        preview.tasks_created = importer.write(preview.rows, existing) or 0
        preview.account_sheet = getattr(importer, "account_sheet", None)
    return preview


def template_workbook(user: Any, kind: str) -> bytes:
    """An .xlsx template (bytes): the headers, an example row, drop-down lists and the allowed values."""
    return workbooks.template(importer_for(user, kind))
