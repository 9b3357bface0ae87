"""The city office's spreadsheet imports: enterprises, the task library and county-office accounts.

One service for every kind, in two steps:

    upload = store_upload(user, uploaded_file)          # kept in the default storage, imports/<user>/
    with upload.local_copy() as path:
        preview = preview_import(user, "enterprises", path)   # the dry run: nothing written
    with upload.local_copy() as path:
        apply_import(user, "enterprises", path)         # re-validates, then ONE transaction

The columns come from the django-import-export resources (their Chinese headers and choice
widgets); the rules (GB 32100 check digit, county of the importer's city, one code per sheet,
formula-like text, row cap, hostile files) live here, so the views only read and render.
A sheet with any bad row changes nothing: apply_import refuses it.
"""

import csv
import datetime
import io
import re
import shutil
import tempfile
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.encoding import force_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chanjgai_portal.storage import IMPORT_UPLOADS_FOLDER
from scoring.jobs import mark_enterprises_changed
from spreadsheets.cells import FORMULA_PREFIXES
from spreadsheets.resources import EnterpriseResource, IndicatorResource
from tasks import moves
from tasks.models import Indicator

from . import credit_code, scoping
from .models import Enterprise, Profile, Region

User = get_user_model()

# A sheet of a whole city is a few thousand rows; a province's enterprises come in per city.
MAX_ROWS = 20_000
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# An .xlsx is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
EXTENSIONS = (".xlsx", ".csv")
MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlsb", ".xla", ".xlam")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv)$")
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{2,30}$")


class SpreadsheetRejected(Exception):
    """The whole file is refused (not a spreadsheet, macros, encrypted, too many rows, missing
    column). `code` is stable for tests and logs; `message` is for the user."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class ImportRefused(Exception):
    """apply_import was asked to write a sheet that has bad rows: nothing was written."""

    def __init__(self, preview):
        super().__init__(gettext("The sheet has errors; nothing was imported."))
        self.preview = preview


# -- the uploaded file ---------------------------------------------------------------------


@dataclass
class Upload:
    """An uploaded sheet kept in the default storage (local disk or S3), not on one server's
    disk: the preview and the confirm may be served by different web servers."""

    token: str
    name: str
    original_name: str

    @contextmanager
    def local_copy(self):
        """The sheet as a temporary local file, for the parsers (zipfile, openpyxl) that need one."""
        with default_storage.open(self.name, "rb") as source, tempfile.NamedTemporaryFile(
            suffix=Path(self.token).suffix
        ) as copy:
            shutil.copyfileobj(source, copy)
            copy.flush()
            yield Path(copy.name)


def _storage_name(user, token):
    return f"{IMPORT_UPLOADS_FOLDER}/{user.pk}/{token}"


def store_upload(user, uploaded):
    """Keep an uploaded sheet under a generated name in the user's own folder, for preview and confirm."""
    name = force_str(getattr(uploaded, "name", "") or "")
    suffix = Path(name).suffix.lower()
    if suffix in MACRO_EXTENSIONS:
        raise SpreadsheetRejected(
            "macro", gettext("Macro-enabled workbooks (.xlsm) are not accepted. Save the sheet as .xlsx and upload it again.")
        )
    if suffix not in EXTENSIONS:
        raise SpreadsheetRejected("not_spreadsheet", gettext("This file is not a spreadsheet. Upload an .xlsx or .csv file."))
    if uploaded.size > MAX_UPLOAD_BYTES:
        raise SpreadsheetRejected(
            "too_large", gettext("The file is larger than %(size)s MB.") % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    token = f"{uuid.uuid4().hex}{suffix}"
    stored_name = default_storage.save(_storage_name(user, token), uploaded)
    return Upload(token=token, name=stored_name, original_name=name)


def upload_for(user, token):
    """The user's stored upload named by `token`; None if it is not theirs or gone."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    name = _storage_name(user, token)
    return Upload(token=token, name=name, original_name=token) if default_storage.exists(name) else None


def discard_upload(user, token):
    upload = upload_for(user, token)
    if upload is not None:
        default_storage.delete(upload.name)


def discard_stale_uploads(now=None):
    """Delete uploaded sheets that were never imported, IMPORT_UPLOADS_KEEP_HOURS after the upload.

    A sheet waits in the storage between its preview and the confirm (or the cancel, which
    deletes it); one whose preview was simply left open would stay for good. Returns how many
    were deleted. Works on local disk and S3 alike (listdir and get_modified_time).
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=settings.IMPORT_UPLOADS_KEEP_HOURS)
    removed = 0
    try:
        folders, _files = default_storage.listdir(IMPORT_UPLOADS_FOLDER)
    except FileNotFoundError:
        return 0
    for folder in folders:
        _subfolders, names = default_storage.listdir(f"{IMPORT_UPLOADS_FOLDER}/{folder}")
        for name in names:
            path = f"{IMPORT_UPLOADS_FOLDER}/{folder}/{name}"
            try:
                if default_storage.get_modified_time(path) < cutoff:
                    default_storage.delete(path)
                    removed += 1
            except FileNotFoundError:
                continue  # confirmed or cancelled meanwhile
    return removed


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


def read_sheet(path):
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


@dataclass
class RowError:
    row: int
    column: str
    code: str
    message: str


@dataclass
class RowResult:
    row: int
    values: dict
    action: str = ""  # create, update, unchanged, error
    key: str = ""
    label: str = ""
    errors: list = field(default_factory=list)


@dataclass
class Preview:
    kind: str
    rows: list
    errors: list

    @property
    def ok(self):
        return not self.errors

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


def clean_cell(column, raw, context):
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


# -- the kinds -----------------------------------------------------------------------------


class SheetImport:
    """One kind of sheet: its columns, how a row is keyed and compared, and how it is written."""

    kind = ""
    title = ""
    columns = ()

    def __init__(self, user):
        profile = Profile.for_user(user)
        if profile is None or not profile.is_city_office or profile.city is None:
            raise PermissionDenied(gettext("Only the city reform office can import spreadsheets."))
        self.user = user
        self.city = profile.city
        self.counties = {c.name: c for c in Region.objects.filter(level=Region.Level.COUNTY, parent=self.city)}

    # Subclasses: key(values) -> natural key; load_existing(keys) -> {key: obj};
    # compare(values, obj) -> True when nothing would change; check(results, existing) for
    # cross-row rules; write(results, existing) inside the transaction.

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

    def validate(self, path):
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
                try:
                    result.values[column.key] = clean_cell(column, raw, context)
                except CellError as error:
                    result.errors.append(RowError(number, column.header, error.code, error.message))
            results.append(result)
        self._duplicates(results)
        existing = self.load_existing(results)
        self.check(results, existing)
        for result in results:
            if result.errors:
                result.action = "error"
                continue
            obj = existing.get(result.key)
            result.action = "create" if obj is None else ("unchanged" if self.compare(result.values, obj) else "update")
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


def _in_chunks(items, size=2000):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _resource_label(resource_class, name):
    return resource_class.fields[name].column_name


def _account_error(result, column, account, city):
    """A per-row error if the existing `account` is not the city's to change
    (enterprises.scoping.check_account: a superuser's, one without a role, another city's)."""
    try:
        scoping.check_account(account, city=city)
    except ValidationError as error:
        result.errors.append(RowError(result.row, column, error.code, force_str(error.messages[0])))
        return True
    return False


class EnterpriseImport(SheetImport):
    """Enterprises keyed by their unified social credit code; the liaison account is created or linked."""

    kind = "enterprises"
    title = _("Enterprises")
    label_key = "name"
    MODEL_FIELDS = (
        "name", "county", "size_class", "ownership", "pilot_level", "employees", "liaison_name", "liaison_phone", "is_active"
    )

    def __init__(self, user):
        super().__init__(user)
        r = EnterpriseResource
        self.columns = (
            Column("credit_code", _resource_label(r, "credit_code"), "credit_code", True, 18, example=""),
            Column("name", _resource_label(r, "name"), "text", True, 128, example="徐州云集港口有限公司"),
            Column("county", _resource_label(r, "county"), "county", True, example=next(iter(self.counties), "鼓楼区")),
            Column("size_class", _resource_label(r, "size_class"), "choice", True, choices=Enterprise.SizeClass.choices,
                   example=Enterprise.SizeClass.LARGE.label),
            Column("ownership", _resource_label(r, "ownership"), "choice", True, choices=Enterprise.Ownership.choices,
                   example=Enterprise.Ownership.PRIVATE.label),
            Column("pilot_level", _resource_label(r, "pilot_level"), "choice", choices=Enterprise.PilotLevel.choices,
                   example=Enterprise.PilotLevel.MUNICIPAL.label),
            Column("employees", _resource_label(r, "employees"), "int", example=320),
            Column("liaison_name", _resource_label(r, "liaison_name"), "text", max_length=32, example="张伟"),
            Column("liaison_phone", _resource_label(r, "liaison_phone"), "phone", max_length=32, example="13800000000"),
            Column("liaison_account", _resource_label(r, "liaison_account"), "username", max_length=150, example="zhangwei.example"),
            Column("is_active", _resource_label(r, "is_active"), "bool", example=_("Yes")),
        )

    def normalised(self, values):
        out = dict(values)
        out["pilot_level"] = out.get("pilot_level") or Enterprise.PilotLevel.NONE
        out["employees"] = out.get("employees") or 0
        out["liaison_name"] = out.get("liaison_name") or ""
        out["liaison_phone"] = out.get("liaison_phone") or ""
        out["is_active"] = True if out.get("is_active") is None else out["is_active"]
        return out

    def load_existing(self, results):
        codes = [r.key for r in results if r.key]
        existing = {}
        for chunk in _in_chunks(codes):
            for enterprise in Enterprise.objects.filter(credit_code__in=chunk).select_related("county"):
                existing[enterprise.credit_code] = enterprise
        # An enterprise of another city is never updated (nor moved into this one): check() refuses it.
        self.foreign = {code for code, e in existing.items() if e.county.parent_id != self.city.pk}
        ids = [e.pk for code, e in existing.items() if code not in self.foreign]
        accounts = [r.values.get("liaison_account") for r in results if r.values.get("liaison_account")]
        self.users = {}
        for chunk in _in_chunks(accounts):
            for user in User.objects.filter(username__in=chunk).select_related(*scoping.ACCOUNT_RELATIONS):
                self.users[user.username] = user
        # The current liaison account of each existing enterprise (for "unchanged").
        self.accounts = {}
        for chunk in _in_chunks(ids):
            rows = Profile.objects.filter(enterprise_id__in=chunk, role=Profile.Role.ENTERPRISE_LIAISON).values_list(
                "enterprise_id", "user__username"
            )
            for enterprise_id, username in rows:
                self.accounts.setdefault(enterprise_id, set()).add(username)
        return existing

    def _moves_county(self, result, existing):
        enterprise = existing.get(result.key)
        county = result.values.get("county")
        return enterprise is not None and county is not None and enterprise.county_id != county.pk

    def check(self, results, existing):
        code_column = self.key_column().header
        for result in results:
            if result.key in self.foreign:
                result.errors.append(
                    RowError(result.row, code_column, "outside_city",
                             gettext("The enterprise with credit code “%(value)s” belongs to another city.")
                             % {"value": result.key})
                )
        county_column = next(c for c in self.columns if c.key == "county").header
        for result in results:
            if result.errors or not self._moves_county(result, existing):
                continue
            # A new county moves the enterprise with its open tasks: the move's own rules.
            try:
                moves.check_move(self.user, existing[result.key], result.values["county"])
            except (PermissionDenied, ValidationError, ObjectDoesNotExist) as error:
                message = " ".join(getattr(error, "messages", None) or [str(error)])
                result.errors.append(RowError(result.row, county_column, "move_refused", message))
        first = {}
        for result in results:
            account = result.values.get("liaison_account")
            if not account:
                continue
            column = next(c for c in self.columns if c.key == "liaison_account").header
            if account in first:
                result.errors.append(
                    RowError(result.row, column, "duplicate_in_sheet",
                             gettext("“%(value)s” already appears in row %(row)s of this sheet.")
                             % {"value": account, "row": first[account]})
                )
                continue
            first[account] = result.row
            user = self.users.get(account)
            if user is None:
                continue
            if _account_error(result, column, user, self.city):
                continue
            profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
            target = existing.get(result.key)
            linked_here = (
                profile is not None
                and profile.role == Profile.Role.ENTERPRISE_LIAISON
                and target is not None
                and profile.enterprise_id == target.pk
            )
            if profile is not None and not linked_here:
                result.errors.append(
                    RowError(result.row, column, "account_taken",
                             gettext("Account “%(value)s” already belongs to another enterprise or role.") % {"value": account})
                )

    def compare(self, values, enterprise):
        values = self.normalised(values)
        for name in self.MODEL_FIELDS:
            current = enterprise.county if name == "county" else getattr(enterprise, name)
            if current != values[name]:
                return False
        account = values.get("liaison_account")
        return not account or account in self.accounts.get(enterprise.pk, set())

    def write(self, results, existing):
        new, changed, left_or_rejoined = [], [], []
        for result in results:
            values = self.normalised(result.values)
            if result.action == "create":
                enterprise = Enterprise(credit_code=result.key, **{n: values[n] for n in self.MODEL_FIELDS})
                new.append(enterprise)
                existing[result.key] = enterprise
            elif result.action == "update":
                enterprise = existing[result.key]
                if self._moves_county(result, existing):
                    moves.move_enterprise(self.user, enterprise, values["county"], str(moves.IMPORT_REASON))
                if enterprise.is_active != values["is_active"]:
                    left_or_rejoined.append(enterprise.pk)
                for name in self.MODEL_FIELDS:
                    setattr(enterprise, name, values[name])
                changed.append(enterprise)
        Enterprise.objects.bulk_create(new, batch_size=1000)
        Enterprise.objects.bulk_update(changed, self.MODEL_FIELDS, batch_size=1000)
        if left_or_rejoined:
            mark_enterprises_changed(left_or_rejoined)  # bulk_update sends no signals
        # Liaison accounts: create the missing users, then the missing profiles.
        wanted = {}
        for result in results:
            account = result.values.get("liaison_account")
            if account and result.action in ("create", "update"):
                wanted[account] = (existing[result.key], result.values.get("liaison_name") or "")
        new_users = [User(username=name, first_name=person[:150]) for name, (_e, person) in wanted.items() if name not in self.users]
        for user in new_users:
            user.set_unusable_password()  # the city office sets or resets passwords
        User.objects.bulk_create(new_users, batch_size=1000)
        new_names = {user.username for user in new_users}
        for user in new_users:
            self.users[user.username] = user
        profiles = [
            Profile(user=self.users[name], role=Profile.Role.ENTERPRISE_LIAISON, enterprise=enterprise)
            for name, (enterprise, _person) in wanted.items()
            # New users have no profile; check() refused existing accounts bound elsewhere.
            if name in new_names or not hasattr(self.users[name], "profile")
        ]
        Profile.objects.bulk_create(profiles, batch_size=1000)


class IndicatorImport(SheetImport):
    """The city's task library keyed by indicator code: importing it again updates it in place."""

    kind = "indicators"
    title = _("Task library")
    label_key = "title"
    MODEL_FIELDS = ("category", "title", "requirement", "evidence_hint", "max_points", "target", "applies_to_sizes", "order", "is_active")

    def __init__(self, user):
        super().__init__(user)
        r = IndicatorResource
        self.columns = (
            Column("code", _resource_label(r, "code"), "text", True, 16, example="B01"),
            Column("category", _resource_label(r, "category"), "choice", True, choices=Indicator.Category.choices,
                   example=Indicator.Category.SKILLS.label),
            Column("title", _resource_label(r, "title"), "text", True, 200, example="开展劳动技能竞赛等技术提升措施"),
            Column("requirement", _resource_label(r, "requirement"), "text", example="全年至少组织一次劳动技能竞赛"),
            Column("evidence_hint", _resource_label(r, "evidence_hint"), "text", example="竞赛方案、获奖名单"),
            Column("max_points", _resource_label(r, "max_points"), "points", True, example=10),
            Column("target", _resource_label(r, "target"), "choice", True, choices=Indicator.Target.choices,
                   example=Indicator.Target.ENTERPRISE.label),
            Column("applies_to_sizes", _resource_label(r, "applies_to_sizes"), "sizes", example=""),
            Column("order", _resource_label(r, "order"), "int", example=1),
            Column("is_active", _resource_label(r, "is_active"), "bool", example=_("Yes")),
        )

    def normalised(self, values):
        out = dict(values)
        out["requirement"] = out.get("requirement") or ""
        out["evidence_hint"] = out.get("evidence_hint") or ""
        out["applies_to_sizes"] = out.get("applies_to_sizes") or []
        out["order"] = out.get("order") or 0
        out["is_active"] = True if out.get("is_active") is None else out["is_active"]
        return out

    def load_existing(self, results):
        return {i.code: i for i in Indicator.objects.filter(city=self.city)}

    def compare(self, values, indicator):
        values = self.normalised(values)
        return all(getattr(indicator, name) == values[name] for name in self.MODEL_FIELDS)

    def write(self, results, existing):
        new, changed = [], []
        for result in results:
            values = self.normalised(result.values)
            fields_ = {n: values[n] for n in self.MODEL_FIELDS}
            if result.action == "create":
                new.append(Indicator(city=self.city, code=result.key, **fields_))
            elif result.action == "update":
                indicator = existing[result.key]
                for name, value in fields_.items():
                    setattr(indicator, name, value)
                changed.append(indicator)
        Indicator.objects.bulk_create(new)
        Indicator.objects.bulk_update(changed, self.MODEL_FIELDS)


class CountyOfficeImport(SheetImport):
    """County reform office accounts keyed by account name, each bound to a county of the city."""

    kind = "county_offices"
    title = _("County office accounts")
    label_key = "full_name"

    def __init__(self, user):
        super().__init__(user)
        self.columns = (
            Column("username", _("Account"), "username", True, 150, example="county01"),
            Column("county", _("County-level unit"), "county", True, example=next(iter(self.counties), "鼓楼区")),
            Column("full_name", _("Contact name"), "text", max_length=150, example="李娜"),
            Column("email", _("Email"), "text", max_length=254, example="county01@example.com"),
        )

    def load_existing(self, results):
        names = [r.key for r in results if r.key]
        users = {}
        for chunk in _in_chunks(names):
            for user in User.objects.filter(username__in=chunk).select_related(*scoping.ACCOUNT_RELATIONS):
                users[user.username] = user
        return users

    def check(self, results, existing):
        column = self.columns[0].header
        for result in results:
            user = existing.get(result.key)
            if user is None:
                continue
            if _account_error(result, column, user, self.city):
                continue
            profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
            if profile is not None and not (
                profile.role == Profile.Role.COUNTY_OFFICE and profile.region.parent_id == self.city.pk
            ):
                result.errors.append(
                    RowError(result.row, column, "account_taken",
                             gettext("Account “%(value)s” already belongs to another enterprise or role.") % {"value": result.key})
                )

    def compare(self, values, user):
        profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
        return (
            profile is not None
            and profile.region_id == values["county"].pk
            and user.first_name == (values.get("full_name") or "")
            and user.email == (values.get("email") or "")
        )

    def write(self, results, existing):
        for result in results:
            if result.action not in ("create", "update"):
                continue
            values = result.values
            user = existing.get(result.key)
            if user is None:
                user = User(username=result.key)
                user.set_unusable_password()
            user.first_name = values.get("full_name") or ""
            user.email = values.get("email") or ""
            user.save()
            Profile.objects.update_or_create(
                user=user, defaults={"role": Profile.Role.COUNTY_OFFICE, "region": values["county"], "enterprise": None}
            )


KINDS = {cls.kind: cls for cls in (EnterpriseImport, IndicatorImport, CountyOfficeImport)}


def importer_for(user, kind):
    """The import of `kind` for the user; PermissionDenied unless a city office, LookupError for an unknown kind."""
    if kind not in KINDS:
        raise LookupError(kind)
    return KINDS[kind](user)


def preview_import(user, kind, path):
    """The dry run: what confirming the sheet would create, update and leave unchanged, and every bad row."""
    preview, _existing = importer_for(user, kind).validate(path)
    return preview


def apply_import(user, kind, path):
    """Validate the sheet again and write it in one transaction; ImportRefused (nothing written) if any row is bad."""
    importer = importer_for(user, kind)
    with transaction.atomic():
        preview, existing = importer.validate(path)
        if not preview.ok:
            raise ImportRefused(preview)
        importer.write(preview.rows, existing)
    return preview


def template_workbook(user, kind):
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
