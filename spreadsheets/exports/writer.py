"""The streaming .xlsx writer of the offices' spreadsheets: an ExportSpec in, a file out.

What a sheet holds is spreadsheets.exports.specs; an export too large for one request is
written by an export job (spreadsheets.exports.jobs).
"""

import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from django.utils.encoding import force_str

from ..cells import spreadsheet_safe

CHUNK_SIZE = 2000


@dataclass
class ExportSpec:
    """One sheet to write: its title row, columns (header, kind, width), rows and file name."""

    kind: str
    title: str
    title_line: str
    filename: str
    columns: list
    rows: Callable  # () -> iterator of row lists
    total: int = 0


# -- the writer ----------------------------------------------------------------------------
#
# A minimal SpreadsheetML (.xlsx) writer that streams the sheet's XML straight into the zip:
# constant memory, and about three times faster than XlsxWriter's constant_memory mode at
# 100,000 rows (bench/exports.py, variant b0), because a cell is one f-string, not a method
# chain. Cells are inline strings and plain numbers; styles are a fixed table.

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# cellXfs indexes of STYLES below: 0 plain, 1 title, 2 header, 3 integer, 4 points, 5 percent.
STYLE_OF_KIND = {"int": 3, "points": 4, "percent": 5}
STYLES = (
    XML_HEAD + f'<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="13"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFF3E3E1"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" '
    'applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="10" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
CONTENT_TYPES = (
    XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
ROOT_RELS = (
    XML_HEAD + f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK_RELS = (
    XML_HEAD + f'<Relationships xmlns="{PKG_REL_NS}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _xml_text(value):
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _text_cell(ref, value, style=0):
    text = _xml_text(_cell_text(value))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    style_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{style_attr} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def write_xlsx(
    target: str | os.PathLike | IO[bytes], spec: ExportSpec, progress: Callable[[int], object] | None = None
) -> int:
    """Write the spec as an .xlsx to `target` (a path or a binary file); returns the row count.

    Title row (title, period, scope, time), then a frozen header row with an auto-filter.
    Text is escaped with spreadsheet_safe() and always written as text, never as a formula.
    `progress(rows_written)` is called every CHUNK_SIZE rows.
    """
    letters = [column_letter(i) for i in range(max(len(spec.columns), 1))]
    styles = [STYLE_OF_KIND.get(kind, 0) for _h, kind, _w in spec.columns]
    number_types = (int, float, Decimal)
    cols = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{width}" customWidth="1"/>' for i, (_h, _k, width) in enumerate(spec.columns)
    )
    rows_written = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as archive:
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            raw.write(
                (
                    XML_HEAD + f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
                    '<sheetViews><sheetView workbookViewId="0">'
                    '<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>'
                    '<selection pane="bottomLeft" activeCell="A3" sqref="A3"/></sheetView></sheetViews>'
                    '<sheetFormatPr defaultRowHeight="15"/>'
                    + (f"<cols>{cols}</cols>" if cols else "")
                    + "<sheetData>"
                    + f'<row r="1">{_text_cell("A1", spec.title_line, 1)}</row>'
                    + '<row r="2">'
                    + "".join(_text_cell(f"{letters[i]}2", header, 2) for i, (header, _k, _w) in enumerate(spec.columns))
                    + "</row>"
                ).encode()
            )
            buffer = []
            number = 2
            for number, row in enumerate(spec.rows(), start=3):
                cells = [f'<row r="{number}">']
                for col, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        cells.append(_text_cell(f"{letters[col]}{number}", value))
                    elif isinstance(value, number_types) and not isinstance(value, bool):
                        style = styles[col]
                        style_attr = f' s="{style}"' if style else ""
                        cells.append(f'<c r="{letters[col]}{number}"{style_attr}><v>{value}</v></c>')
                    else:
                        cells.append(_text_cell(f"{letters[col]}{number}", force_str(value)))
                cells.append("</row>")
                buffer.append("".join(cells))
                if len(buffer) >= 1000:
                    raw.write("".join(buffer).encode())
                    buffer.clear()
                rows_written = number - 2
                if progress is not None and rows_written % CHUNK_SIZE == 0:
                    progress(rows_written)
            last = f"{letters[len(spec.columns) - 1]}{max(number, 2)}"
            buffer.append(f'</sheetData><autoFilter ref="A2:{last}"/>')
            buffer.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>')
            buffer.append("</worksheet>")
            raw.write("".join(buffer).encode())
        sheet_name = _xml_text(_sheet_name(spec.title)).replace('"', "&quot;")
        quoted = "'" + _sheet_name(spec.title).replace("'", "''") + "'"
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", STYLES)
        archive.writestr(
            "xl/workbook.xml",
            XML_HEAD + f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><bookViews><workbookView/></bookViews>'
            f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets>'
            f'<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"{_xml_text(quoted)}!$A$2:${letters[len(spec.columns) - 1]}${max(number, 2)}</definedName></definedNames>"
            "</workbook>",
        )
    return rows_written


_FORMULA_FIRST = frozenset("=+-@\t\r")


def _cell_text(value):
    """spreadsheet_safe(), with a fast path for the usual printable, formula-free text."""
    if value.isprintable() and value[0] not in _FORMULA_FIRST:
        return value
    return spreadsheet_safe(value)


def _sheet_name(title):
    name = "".join(ch for ch in force_str(title) if ch not in "[]:*?/\\")
    return name[:31] or "Sheet1"


def export_to_tempfile(spec: ExportSpec) -> IO[bytes]:
    """The spec written to an anonymous temporary file, rewound for reading."""
    out = tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx(out, spec)
    out.seek(0)
    return out
