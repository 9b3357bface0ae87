"""The workbooks the imports hand out: the template of each kind of sheet and the error
workbook of a preview (its rejected rows, ready to be corrected and uploaded again).

Both have the kind's headers in the template's order, a drop-down list (data validation) on
every coded column (county, size class, ownership, pilot level, yes/no, category, assignee)
fed by a second sheet that lists each column's allowed values with their codes, whole-number
and points checks, and text cells kept as text (credit codes, phone numbers).
"""

import io
from decimal import Decimal
from typing import Any

from django.utils.encoding import force_str
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from enterprises import credit_code

from ..cells import spreadsheet_safe
from .sheets import MAX_ROWS, Column, Preview, SheetImport

HEADER_FILL = PatternFill("solid", fgColor="F3E3E1")
BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
BAD_FONT = Font(color="9C0006")
CODED_KINDS = ("choice", "bool", "county", "sizes")


def allowed_values(importer: SheetImport, column: Column) -> list[tuple[str, str]]:
    """(label as written in the sheet, code) of each value a coded column accepts."""
    if column.kind == "county":
        return [(county.name, county.code) for county in importer.counties.values()]
    if column.kind == "bool":
        return [(gettext("Yes"), "1"), (gettext("No"), "0")]
    if column.kind == "sizes":
        from enterprises.models import Enterprise

        return [(force_str(label), code) for code, label in Enterprise.SizeClass.choices]
    return [(force_str(label), code) for code, label in column.choices]


def _example(importer: SheetImport, column: Column) -> Any:
    if importer.kind == "enterprises" and column.key == "credit_code":
        return credit_code.make_code("9", "1", "320300", 99_999_990)
    if column.kind == "county":
        return next(iter(importer.counties), column.example)
    example = column.example
    return example if isinstance(example, (int, float, Decimal)) else force_str(example)


def _values_sheet(workbook: Workbook, importer: SheetImport) -> dict[str, str]:
    """The sheet of allowed values; {column key: the formula of its list of labels}."""
    sheet = workbook.create_sheet(force_str(gettext("Allowed values"))[:31])
    lists = {}
    index = 1
    for column in importer.columns:
        if column.kind not in CODED_KINDS:
            continue
        values = allowed_values(importer, column)
        label_letter, code_letter = get_column_letter(index), get_column_letter(index + 1)
        for cell, text in ((f"{label_letter}1", column.header), (f"{code_letter}1", gettext("Code"))):
            sheet[cell] = text
            sheet[cell].font = Font(bold=True)
            sheet[cell].fill = HEADER_FILL
        for offset, (label, code) in enumerate(values, start=2):
            sheet[f"{label_letter}{offset}"] = label
            sheet[f"{code_letter}{offset}"] = code
            sheet[f"{code_letter}{offset}"].number_format = "@"
        sheet.column_dimensions[label_letter].width = max(12, len(column.header) * 2 + 4)
        sheet.column_dimensions[code_letter].width = 12
        if column.kind != "sizes" and values:
            lists[column.key] = f"{quote_sheetname(sheet.title)}!${label_letter}$2:${label_letter}${len(values) + 1}"
        index += 3  # an empty column between two lists
    sheet.freeze_panes = "A2"
    return lists


def _validations(sheet, importer: SheetImport, lists: dict[str, str]) -> None:
    values_title = force_str(gettext("Allowed values"))
    last = MAX_ROWS + 1
    for index, column in enumerate(importer.columns, start=1):
        letter = get_column_letter(index)
        if column.key in lists:
            rule = DataValidation(type="list", formula1=lists[column.key], allow_blank=not column.required)
            rule.error = gettext("Choose a value from the list (the sheet “%(sheet)s” lists them).") % {"sheet": values_title}
        elif column.kind == "int":
            rule = DataValidation(type="whole", operator="between", formula1="0", formula2="2000000000", allow_blank=True)
            rule.error = gettext("Enter a whole number of at least 0.")
        elif column.kind == "points":
            rule = DataValidation(type="decimal", operator="between", formula1="0", formula2="9999.99", allow_blank=True)
            rule.error = gettext("Enter a number of points of at least 0.")
        elif column.kind == "sizes":
            rule = DataValidation(allow_blank=True)
            rule.prompt = gettext("Size classes separated by 、 (see the sheet “%(sheet)s”); empty means all.") % {
                "sheet": values_title
            }
            rule.showInputMessage = True
        else:
            continue
        rule.errorTitle = column.header[:32]
        rule.showErrorMessage = rule.type is not None
        rule.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(rule)


def _workbook(importer: SheetImport, extra_header: str = "") -> tuple[Workbook, Any]:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = force_str(importer.title)[:31]
    headers = [column.header for column in importer.columns] + ([extra_header] if extra_header else [])
    for index, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=index, value=header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        sheet.column_dimensions[cell.column_letter].width = max(12, len(header) * 2 + 2)
    sheet.freeze_panes = "A2"
    _validations(sheet, importer, _values_sheet(workbook, importer))
    return workbook, sheet


def _text_format(cell, column: Column) -> None:
    if column.kind not in ("int", "points"):
        cell.number_format = "@"  # keeps credit codes and phone numbers as text in Excel


def _bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template(importer: SheetImport) -> bytes:
    """The kind's template: headers, one example row of the demo city, drop-downs, allowed values."""
    workbook, sheet = _workbook(importer)
    for index, column in enumerate(importer.columns, start=1):
        cell = sheet.cell(row=2, column=index, value=_example(importer, column))
        _text_format(cell, column)
    return _bytes(workbook)


def error_workbook(importer: SheetImport, preview: Preview) -> bytes:
    """The preview's rejected rows as uploaded, under the template's headers, each bad cell
    marked (red, with the message as a comment) and a last column saying what is wrong in each
    cell: correct it and upload it again (the extra column is ignored by the import)."""
    problems = gettext("What is wrong")
    workbook, sheet = _workbook(importer, problems)
    positions = {column.header: index for index, column in enumerate(importer.columns, start=1)}
    sheet.column_dimensions[get_column_letter(len(importer.columns) + 1)].width = 60
    out_row = 1
    for result in preview.rows:
        if not result.errors:
            continue
        out_row += 1
        for index, column in enumerate(importer.columns, start=1):
            raw = result.raw.get(column.key)
            cell = sheet.cell(row=out_row, column=index, value=spreadsheet_safe(raw) if isinstance(raw, str) else raw)
            _text_format(cell, column)
        for error in result.errors:
            index = positions.get(error.column)
            if index is not None:
                cell = sheet.cell(row=out_row, column=index)
                cell.fill = BAD_FILL
                cell.font = BAD_FONT
                text = f"{cell.comment.text}\n{error.message}" if cell.comment else error.message
                cell.comment = Comment(text, gettext("Import preview"))
        summary = gettext("Row %(row)s of the uploaded sheet") % {"row": result.row} + "：" + "；".join(
            gettext("%(column)s: %(message)s") % {"column": e.column, "message": e.message} for e in result.errors
        )
        note = sheet.cell(row=out_row, column=len(importer.columns) + 1, value=summary)
        note.alignment = Alignment(wrap_text=True, vertical="top")
        note.font = BAD_FONT
    return _bytes(workbook)
