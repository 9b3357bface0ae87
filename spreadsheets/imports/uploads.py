"""Uploaded sheets kept in the default storage between the preview and the confirm, and the
sweep of those never confirmed (spreadsheets.celery_tasks.discard_stale_import_uploads)."""

import datetime
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext

from chanjgai_portal.storage import IMPORT_UPLOADS_FOLDER

from .sheets import SpreadsheetRejected

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
EXTENSIONS = (".xlsx", ".csv")
MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlsb", ".xla", ".xlam")
TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv)$")


@dataclass
class Upload:
    """An uploaded sheet kept in the default storage (local disk or S3), not on one server's
    disk: the preview and the confirm may be served by different web servers."""

    token: str
    name: str
    original_name: str

    @contextmanager
    def local_copy(self) -> Iterator[Path]:
        """The sheet as a temporary local file, for the parsers (zipfile, openpyxl) that need one."""
        with default_storage.open(self.name, "rb") as source, tempfile.NamedTemporaryFile(
            suffix=Path(self.token).suffix
        ) as copy:
            shutil.copyfileobj(source, copy)
            copy.flush()
            yield Path(copy.name)


def _storage_name(user: Any, token: str) -> str:
    return f"{IMPORT_UPLOADS_FOLDER}/{user.pk}/{token}"


def store_upload(user: Any, uploaded: Any) -> Upload:
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


def upload_for(user: Any, token: Any) -> Upload | None:
    """The user's stored upload named by `token`; None if it is not theirs or gone."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    name = _storage_name(user, token)
    return Upload(token=token, name=name, original_name=token) if default_storage.exists(name) else None


def discard_upload(user: Any, token: Any) -> None:
    """Delete the user's stored upload named by `token`, if there is one."""
    upload = upload_for(user, token)
    if upload is not None:
        default_storage.delete(upload.name)


def discard_stale_uploads(now: datetime.datetime | None = None) -> int:
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
