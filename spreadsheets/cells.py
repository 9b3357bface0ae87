"""Cell safety shared by every spreadsheet the portal reads or writes (imports and exports).

A cell starting with a formula prefix is run by Excel/LibreOffice (CSV and formula injection,
OWASP): exports quote it, imports refuse it. XLSX cannot store some control characters:
exports drop them.
"""

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# A cell starting with one of these is run as a formula by Excel/LibreOffice (CSV and
# formula injection, OWASP); tab and carriage return can hide such a prefix.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text for a spreadsheet cell: formula-like text is quoted with a leading apostrophe
    and characters that XLSX cannot store are dropped. Numbers and dates pass unchanged."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SpreadsheetSafeMixin:
    """Escapes every exported cell with spreadsheet_safe(); mix in before ModelResource."""

    def export_field(self, field, instance, **kwargs):
        return spreadsheet_safe(super().export_field(field, instance, **kwargs))
