"""The import service: one entry point per step for every kind of sheet.

    upload = uploads.store_upload(user, uploaded_file)   # kept in the default storage, imports/<user>/
    with upload.local_copy() as path:
        preview = preview_import(user, "enterprises", path)   # the dry run: nothing written
    with upload.local_copy() as path:
        apply_import(user, "enterprises", path)         # re-validates, then ONE transaction

A sheet with any bad row changes nothing: apply_import refuses it.
"""

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.encoding import force_str
from django.utils.translation import gettext

from enterprises import credit_code

from .enterprises import EnterpriseImport
from .indicators import IndicatorImport
from .offices import CountyOfficeImport
from .sheets import Preview, SheetImport


class ImportRefused(Exception):
    """apply_import was asked to write a sheet that has bad rows: nothing was written."""

    def __init__(self, preview):
        super().__init__(gettext("The sheet has errors; nothing was imported."))
        self.preview = preview


KINDS = {cls.kind: cls for cls in (EnterpriseImport, IndicatorImport, CountyOfficeImport)}


def importer_for(user: Any, kind: str) -> SheetImport:
    """The import of `kind` for the user; PermissionDenied unless a city office, LookupError for an unknown kind."""
    if kind not in KINDS:
        raise LookupError(kind)
    return KINDS[kind](user)


def preview_import(user: Any, kind: str, path: str | Path) -> Preview:
    """The dry run: what confirming the sheet would create, update and leave unchanged, and every bad row."""
    preview, _existing = importer_for(user, kind).validate(path)
    return preview


def apply_import(user: Any, kind: str, path: str | Path) -> Preview:
    """Validate the sheet again and write it in one transaction; ImportRefused (nothing written) if any row is bad."""
    importer = importer_for(user, kind)
    with transaction.atomic():
        preview, existing = importer.validate(path)
        if not preview.ok:
            raise ImportRefused(preview)
        preview.tasks_created = importer.write(preview.rows, existing) or 0
    return preview


def template_workbook(user: Any, kind: str) -> bytes:
    """An .xlsx template (bytes): the Chinese headers and one example row, every cell text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    importer = importer_for(user, kind)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = force_str(importer.title)[:31]
    for index, column in enumerate(importer.columns, start=1):
        header = sheet.cell(row=1, column=index, value=column.header)
        header.font = Font(bold=True)
        header.fill = PatternFill("solid", fgColor="F3E3E1")
        example = column.example
        if kind == "enterprises" and column.key == "credit_code":
            example = credit_code.make_code("9", "1", "320300", 99_999_990)
        cell = sheet.cell(row=2, column=index, value=example if isinstance(example, (int, float, Decimal)) else force_str(example))
        if column.kind not in ("int", "points"):
            cell.number_format = "@"  # keeps credit codes and phone numbers as text in Excel
        sheet.column_dimensions[cell.column_letter].width = max(12, len(column.header) * 2 + 2)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
