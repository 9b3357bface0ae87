"""What every spreadsheet import shares: reading a sheet safely, the columns and cell rules,
the row-by-row preview, and SheetImport, the base of each kind (spreadsheets.imports.enterprises,
.indicators, .offices).

The rules (GB 32100 check digit, county of the importer's city, one key per sheet,
formula-like text, row cap, hostile files) live here and in the kinds, so the views only read
and render.
"""

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from enterprises import capabilities, credit_code, scoping
from enterprises.models import Enterprise, Profile, Region

from ..cells import FORMULA_PREFIXES

# A sheet of a whole city is a few thousand rows; a province's enterprises come in per city.
MAX_ROWS = 20_000
# An .xlsx is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{2,30}$")


class SpreadsheetRejected(Exception):
    """The whole file is refused (not a spreadsheet, macros, encrypted, too many rows, missing
    column). `code` is stable for tests and logs; `message` is for the user."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# -- reading a sheet -----------------------------------------------------------------------


def _too_many_rows():
    return SpreadsheetRejected(
        "too_many_rows",
        gettext("The sheet has more than %(max)s rows. Split it into several files of at most %(max)s rows.")
        % {"max": MAX_ROWS},
    )


def _not_a_spreadsheet():
    return SpreadsheetRejected("not_spreadsheet", gettext("This file is not a spreadsheet. Upload an .xlsx or .csv file."))


def _xlsx_rows(path):
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE_MAGIC):
        raise SpreadsheetRejected(
            "encrypted",
            gettext(
                "This workbook is encrypted, password-protected or in the old .xls format. "
                "Save it as an unprotected .xlsx file and upload it again."
            ),
        )
    if not head.startswith(ZIP_MAGIC):
        raise _not_a_spreadsheet()
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise SpreadsheetRejected("too_large", gettext("The workbook is too large to import."))
            content_types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except zipfile.BadZipFile:
        raise _not_a_spreadsheet() from None
    if any(name.lower().endswith("vbaproject.bin") for name in names) or b"macroEnabled" in content_types:
        raise SpreadsheetRejected(
            "macro", gettext("Macro-enabled workbooks (.xlsm) are not accepted. Save the sheet as .xlsx and upload it again.")
        )
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula cell reads as its text ("=HYPERLINK(…)"), never evaluated.
        workbook = load_workbook(path, read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    except SpreadsheetRejected:
        raise
    except Exception:  # any parser failure is a file we cannot read
        raise _not_a_spreadsheet() from None


def _csv_rows(path):
    raw = Path(path).read_bytes()
    if b"\x00" in raw[:4096] or raw.startswith((OLE_MAGIC, ZIP_MAGIC)):
        raise _not_a_spreadsheet()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _not_a_spreadsheet()
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error:
        raise _not_a_spreadsheet() from None


def estimate_rows(path: str | Path) -> int:
    """About how many rows the sheet has (for a progress bar): the .xlsx's recorded dimension
    or the .csv's line count; 0 if unknown. Never raises."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with open(path, "rb") as fh:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            return int(workbook.worksheets[0].max_row or 0)
        finally:
            workbook.close()
    except Exception:  # a bad file is refused by read_sheet, with its reason
        return 0


def read_sheet(path: str | Path) -> Iterator[tuple[int, list]]:
    """(row number, list of cell values) for every non-blank row of the first sheet, the
    header row first. Hostile or oversized files raise SpreadsheetRejected."""
    path = Path(path)
    rows = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _csv_rows(path)
    data_rows = -1  # the header row is not counted
    for number, values in enumerate(rows, start=1):
        values = list(values or ())
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise _too_many_rows()
        yield number, values


# -- columns and cell rules ----------------------------------------------------------------


def _labels(text):
    """Every spelling a header may have: the English msgid and its Chinese translation."""
    spellings = {force_str(text).strip()}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            spellings.add(force_str(text).strip())
    return spellings


@dataclass
class Column:
    key: str
    label: object  # a lazy msgid: the header in the active language
    kind: str = "text"  # text, phone, username, credit_code, county, choice, int, points, bool, sizes
    required: bool = False
    max_length: int = 0
    choices: tuple = ()
    example: object = ""

    @property
    def header(self):
        return force_str(self.label)

    def display(self, value: Any) -> str:
        """A cleaned (or stored) value as the sheet writes it: a choice's label, a county's
        name, 是/否, size classes joined by 、, numbers without trailing zeros."""
        if value is None or value == "" or value == []:
            return ""
        if self.kind == "county":
            return force_str(getattr(value, "name", value))
        if self.kind == "choice":
            return force_str(dict(self.choices).get(value, value))
        if self.kind == "bool":
            return gettext("Yes") if value else gettext("No")
        if self.kind == "sizes":
            labels = dict(Enterprise.SizeClass.choices)
            return "、".join(force_str(labels.get(size, size)) for size in value)
        if isinstance(value, Decimal):
            return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
        return force_str(value)


@dataclass
class RowError:
    row: int
    column: str
    code: str
    message: str


@dataclass
class Change:
    """One field an update changes: its column's header, the stored value and the sheet's, as shown."""

    column: str
    old: str
    new: str


@dataclass
class RowResult:
    row: int
    values: dict
    action: str = ""  # create, update, unchanged, error
    key: str = ""
    label: str = ""
    errors: list = field(default_factory=list)
    changes: list = field(default_factory=list)  # of Change, for an update
    raw: dict = field(default_factory=dict)  # {column key: the cell as uploaded}, for the error workbook


@dataclass
class Preview:
    kind: str
    rows: list
    errors: list
    tasks_created: int = 0  # by apply_import: the check-in tasks the new enterprises were given
    skipped: int = 0  # by apply_import(skip_errors=True): the rows with errors left out
    account_sheet: Any = None  # by apply_import: the initial passwords of the new accounts (accounts.AccountSheet)

    @property
    def ok(self):
        return not self.errors

    @property
    def error_rows(self):
        return self.count("error")

    @property
    def valid_rows(self):
        return len(self.rows) - self.error_rows

    def fingerprint(self) -> str:
        """What confirming would do, row by row (action, changes, error codes), as a digest: the
        confirm compares it with the stored preview's, so nothing the office did not see is written."""
        digest = hashlib.sha256()
        for row in self.rows:
            parts = [str(row.row), row.action, str(row.key)]
            parts += [f"{c.column}\x1f{c.old}\x1f{c.new}" for c in row.changes]
            parts += [f"{e.column}\x1f{e.code}" for e in row.errors]
            digest.update("\x1e".join(parts).encode() + b"\x1d")
        return digest.hexdigest()

    def as_json(self) -> dict:
        """The preview as stored by its job (spreadsheets.imports.previews)."""
        return {
            "kind": self.kind,
            "rows": [
                {
                    "row": r.row, "action": r.action, "key": str(r.key), "label": r.label,
                    "changes": [[c.column, c.old, c.new] for c in r.changes],
                    "errors": [[e.column, e.code, e.message] for e in r.errors],
                }
                for r in self.rows
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "Preview":
        rows = []
        for item in data.get("rows", ()):
            number = item["row"]
            rows.append(
                RowResult(
                    row=number, values={}, action=item["action"], key=item["key"], label=item["label"],
                    changes=[Change(*c) for c in item["changes"]],
                    errors=[RowError(number, *e) for e in item["errors"]],
                )
            )
        return cls(kind=data.get("kind", ""), rows=rows, errors=[e for r in rows for e in r.errors])

    def count(self, action):
        return sum(1 for row in self.rows if row.action == action)

    @property
    def created(self):
        return self.count("create")

    @property
    def updated(self):
        return self.count("update")

    @property
    def unchanged(self):
        return self.count("unchanged")


class CellError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return force_str(value).strip()


def _choice(value, choices):
    for stored, label in choices:
        if value == stored or value in _labels(label):
            return stored
    raise CellError(
        "invalid_choice",
        gettext("“%(value)s” is not one of: %(allowed)s.")
        % {"value": value, "allowed": "、".join(force_str(label) for _s, label in choices)},
    )


def clean_cell(column: Column, raw: Any, context: dict) -> Any:
    """A cell's value for the model, or CellError with a stable code and a message."""
    value = _text(raw)
    if not value:
        if column.required:
            raise CellError("required", gettext("This cell is required."))
        return None
    if column.kind in ("text", "username") and value.startswith(FORMULA_PREFIXES):
        raise CellError("formula", gettext("A cell may not start with =, +, - or @ (it could run as a formula)."))
    if column.max_length and len(value) > column.max_length:
        raise CellError("too_long", gettext("At most %(max)s characters.") % {"max": column.max_length})
    kind = column.kind
    if kind == "text":
        return value
    if kind == "phone":
        if not PHONE_RE.match(value):
            raise CellError("invalid_phone", gettext("“%(value)s” is not a phone number.") % {"value": value})
        return value
    if kind == "username":
        if not USERNAME_RE.match(value):
            raise CellError(
                "invalid_username",
                gettext("An account name uses only letters, digits and @ . + - _ (%(value)s).") % {"value": value},
            )
        return value
    if kind == "credit_code":
        value = value.upper()
        if not credit_code.is_valid(value):
            raise CellError(
                "invalid_credit_code",
                gettext("“%(value)s” is not a valid unified social credit code (18 characters with a correct check digit).")
                % {"value": value},
            )
        return value
    if kind == "county":
        county = context["counties"].get(value)
        if county is None:
            raise CellError(
                "unknown_county",
                gettext("“%(value)s” is not a county-level unit of %(city)s.") % {"value": value, "city": context["city"].name},
            )
        return county
    if kind == "choice":
        return _choice(value, column.choices)
    if kind == "sizes":
        parts = [p for p in re.split(r"[,，、;；/\s]+", value) if p]
        return list(dict.fromkeys(_choice(p, Enterprise.SizeClass.choices) for p in parts))
    if kind == "int":
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or number < 0 or number != number.to_integral_value() or number > 2_000_000_000:
            raise CellError("invalid_number", gettext("Enter a whole number of at least 0."))
        return int(number)
    if kind == "points":
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0 or number >= 10_000:
            raise CellError("invalid_number", gettext("Enter a number of points of at least 0."))
        return number.quantize(Decimal("0.01"))
    if kind == "bool":
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "y"} | {s.lower() for s in _labels(_("Yes"))}:
            return True
        if lowered in {"0", "false", "no", "n"} | {s.lower() for s in _labels(_("No"))}:
            return False
        raise CellError("invalid_choice", gettext("Enter yes or no."))
    raise AssertionError(kind)


# -- the base of every kind ----------------------------------------------------------------


class SheetImport:
    """One kind of sheet: its columns, how a row is keyed and compared, and how it is written."""

    kind = ""
    title = ""
    columns = ()

    def __init__(self, user):
        profile = Profile.for_user(user)
        if not capabilities.may_import(profile):
            raise PermissionDenied(gettext("Only the city reform office can import spreadsheets."))
        self.user = user
        self.city = profile.city
        counties = Region.objects.filter(level=Region.Level.COUNTY, parent=self.city).order_by("order", "code")
        self.counties = {c.name: c for c in counties}

    # Subclasses: key(values) -> natural key; load_existing(keys) -> {key: obj};
    # changes(values, obj) -> [Change] (none: nothing would change); check(results, existing)
    # for cross-row rules; write(results, existing) inside the transaction.

    def column(self, key):
        return next(c for c in self.columns if c.key == key)

    def field_changes(self, values, current):
        """[Change] of the columns whose cleaned value differs from `current` {key: stored value}."""
        out = []
        for key, old in current.items():
            column = self.column(key)
            new = values.get(key)
            if old != new:
                out.append(Change(column.header, column.display(old), column.display(new)))
        return out

    def compare(self, values, obj):
        """True when importing `values` would change nothing of `obj`."""
        return not self.changes(values, obj)

    def match_headers(self, header_row):
        """{column key: cell index}; a missing required column rejects the file."""
        cells = [_text(v) for v in header_row]
        positions = {}
        for column in self.columns:
            spellings = _labels(column.label) | {column.key}
            index = next((i for i, text in enumerate(cells) if text in spellings), None)
            if index is None and column.required:
                raise SpreadsheetRejected(
                    "missing_column",
                    gettext("The sheet has no column “%(column)s”. Download the template and keep its header row.")
                    % {"column": column.header},
                )
            if index is not None:
                positions[column.key] = index
        return positions

    def validate(self, path, progress=None):
        """(Preview, existing objects): every row cleaned, checked and compared with the
        database; nothing is written. `progress(percent)` is called now and then (a job's bar)."""
        report = progress or (lambda percent: None)
        estimate = estimate_rows(path) if progress else 0
        rows = read_sheet(path)
        try:
            _number, header = next(rows)
        except StopIteration:
            raise SpreadsheetRejected("empty", gettext("The sheet is empty.")) from None
        positions = self.match_headers(header)
        context = {"city": self.city, "counties": self.counties}
        results = []
        for number, cells in rows:
            result = RowResult(row=number, values={})
            for column in self.columns:
                index = positions.get(column.key)
                raw = cells[index] if index is not None and index < len(cells) else None
                result.raw[column.key] = raw
                try:
                    result.values[column.key] = clean_cell(column, raw, context)
                except CellError as error:
                    result.errors.append(RowError(number, column.header, error.code, error.message))
            results.append(result)
            if estimate and len(results) % 500 == 0:
                # Reading and cleaning the cells is most of the work: 0–80 %.
                report(min(80, len(results) * 80 // estimate))
        report(80)
        self._duplicates(results)
        existing = self.load_existing(results)
        report(90)
        self.check(results, existing)
        for result in results:
            if result.errors:
                result.action = "error"
                continue
            obj = existing.get(result.key)
            if obj is None:
                result.action = "create"
                continue
            result.changes = self.changes(result.values, obj)
            result.action = "update" if result.changes else "unchanged"
        errors = [error for result in results for error in result.errors]
        return Preview(kind=self.kind, rows=results, errors=errors), existing

    def key_column(self):
        return self.columns[0]

    def _duplicates(self, results):
        """A natural key twice in one sheet: the later rows are errors naming the first."""
        column = self.key_column()
        first = {}
        for result in results:
            key = result.values.get(column.key)
            result.key = key or ""
            result.label = force_str(result.values.get(self.label_key) or "")
            if not key:
                continue
            if key in first:
                result.errors.append(
                    RowError(
                        result.row,
                        column.header,
                        "duplicate_in_sheet",
                        gettext("“%(value)s” already appears in row %(row)s of this sheet.") % {"value": key, "row": first[key]},
                    )
                )
            else:
                first[key] = result.row

    label_key = "name"

    def check(self, results, existing):
        pass


def in_chunks(items: Iterable, size: int = 2000) -> Iterator[list]:
    """`items` in lists of at most `size`, for `__in` lookups that stay under the parameter limit."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def resource_label(resource_class: type, name: str) -> Any:
    """The header of a django-import-export resource's column (a lazy msgid)."""
    return resource_class.fields[name].column_name


def account_error(result: RowResult, column: str, account: Any, city: Region) -> bool:
    """A per-row error if the existing `account` is not the city's to change
    (enterprises.scoping.check_account: a superuser's, one without a role, another city's)."""
    try:
        scoping.check_account(account, city=city)
    except ValidationError as error:
        result.errors.append(RowError(result.row, column, error.code, force_str(error.messages[0])))
        return True
    return False
