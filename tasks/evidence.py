"""Evidence file rules: which files are accepted, recognised by their content.

A file is accepted when its extension is one of ALLOWED_TYPES *and* its content is that kind
of file: a PNG named .pdf, or a program renamed .docx, is refused. Office Open XML files are
opened as zip archives without extracting anything (only the central directory is read), so a
compression bomb is refused before it can unpack; legacy .doc/.xls must be OLE2 compound files
with the stream their kind requires. The content type kept with the file is the detected one.
"""

import hashlib
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

import olefile
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"

# Magic bytes at offset 0.
_PDF = (b"%PDF-",)
_JPEG = (b"\xff\xd8\xff",)
_PNG = (b"\x89PNG\r\n\x1a\n",)
_ZIP = (b"PK\x03\x04",)  # Office Open XML containers
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy Office documents (OLE2 compound files)

# extension -> (content type, magic bytes at offset 0)
ALLOWED_TYPES = {
    ".pdf": (PDF, _PDF),
    ".jpg": (JPEG, _JPEG),
    ".jpeg": (JPEG, _JPEG),
    ".png": (PNG, _PNG),
    ".docx": (DOCX, _ZIP),
    ".xlsx": (XLSX, _ZIP),
    ".pptx": (PPTX, _ZIP),
    ".doc": (DOC, _OLE),
    ".xls": (XLS, _OLE),
}

# A short name of each kind for the page (the evidence gallery).
TYPE_LABELS = {
    PDF: "PDF", JPEG: "JPG", PNG: "PNG", DOCX: "Word", DOC: "Word", XLSX: "Excel", XLS: "Excel", PPTX: "PowerPoint",
}


def type_label(content_type):
    """PDF, JPG, PNG, Word, Excel or PowerPoint; "" for anything else."""
    return TYPE_LABELS.get(content_type, "")


ALLOWED_LABEL = "PDF、JPG、PNG、Word（DOC/DOCX）、Excel（XLS/XLSX）、PowerPoint（PPTX）"

# The part an Office Open XML package of each kind cannot do without.
OOXML_MAIN_PARTS = {DOCX: "word/document.xml", XLSX: "xl/workbook.xml", PPTX: "ppt/presentation.xml"}
# Legacy Office: the OLE2 stream each kind keeps its content in (any one of them).
OLE_STREAMS = {DOC: ("WordDocument",), XLS: ("Workbook", "Book")}

# Zip bomb limits, checked on the archive's central directory before anything is unpacked.
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_UNPACKED_BYTES = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100  # per entry, for entries larger than ZIP_RATIO_FROM_BYTES once unpacked
ZIP_RATIO_FROM_BYTES = 1024 * 1024

MAX_NAME_LENGTH = 200
# Characters Windows refuses in file names; replaced so a name is safe to save anywhere.
_UNSAFE_NAME_CHARACTERS = re.compile(r'[<>:"/\\|?*]')


def allowed_extensions():
    return ",".join(sorted(ALLOWED_TYPES))


def clean_original_name(name):
    """The user's file name without any path parts or control characters, for display.

    At most MAX_NAME_LENGTH characters, shortened before the extension so that it is kept.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_NAME_CHARACTERS.sub("_", name).strip().strip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix
        if len(suffix) > 10:
            suffix = ""
        name = name[: MAX_NAME_LENGTH - len(suffix)].rstrip(". ") + suffix
    return name or "file"


class _Refused(Exception):
    """The content cannot be accepted; `message` says why (already translated)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _ooxml_type(upload, claimed, name):
    """The Office Open XML kind of a zip upload, read from its central directory only."""
    try:
        with zipfile.ZipFile(upload) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise _Refused(_damaged(name)) from None
    if len(entries) > ZIP_MAX_ENTRIES:
        raise _Refused(_bomb(name))
    unpacked = 0
    for entry in entries:
        if entry.flag_bits & 0x1:  # encrypted entry
            raise _Refused(_damaged(name))
        unpacked += entry.file_size
        if unpacked > ZIP_MAX_UNPACKED_BYTES:
            raise _Refused(_bomb(name))
        if entry.file_size > ZIP_RATIO_FROM_BYTES and entry.file_size > ZIP_MAX_RATIO * max(entry.compress_size, 1):
            raise _Refused(_bomb(name))
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names:
        return None
    if any(PurePosixPath(entry).name.lower() == "vbaproject.bin" for entry in names):
        raise _Refused(
            _("“%(name)s” contains macros, which are not accepted. Save it without macros and upload it again.")
            % {"name": name}
        )
    # The claimed kind first: a package never holds two main parts, but a hostile one might.
    for content_type in (claimed, *OOXML_MAIN_PARTS):
        if OOXML_MAIN_PARTS.get(content_type) in names:
            return content_type
    return None


def _ole_type(upload, claimed, name):
    """The legacy Office kind of an OLE2 upload, from the streams it holds."""
    try:
        ole = olefile.OleFileIO(upload)
    except Exception:  # olefile raises OSError and its own errors on malformed files
        raise _Refused(_damaged(name)) from None
    try:
        if ole.exists("EncryptedPackage"):
            # A password-protected .docx/.xlsx/.pptx is an OLE2 file around the encrypted package.
            raise _Refused(_damaged(name))
        for content_type in (claimed, *OLE_STREAMS):
            if any(ole.exists(stream) for stream in OLE_STREAMS.get(content_type, ())):
                return content_type
        return None
    finally:
        ole.close()


def detect_content_type(upload, claimed, name):
    """The content type `upload` really is, judged by its bytes; None when it is none we accept.

    `claimed` is the type its extension names: it only decides which check runs first.
    Raises ValidationError for a damaged, encrypted or bomb-like archive.
    """
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    try:
        if head.startswith(_PDF):
            return PDF
        if head.startswith(_JPEG):
            return JPEG
        if head.startswith(_PNG):
            return PNG
        if head.startswith(_ZIP):
            return _ooxml_type(upload, claimed, name)
        if head.startswith(_OLE):
            return _ole_type(upload, claimed, name)
        return None
    except _Refused as refused:
        raise ValidationError(refused.message) from None
    finally:
        upload.seek(0)


def _damaged(name):
    return _(
        "“%(name)s” is damaged or protected by a password, so it cannot be checked. "
        "Save it again without a password and upload it."
    ) % {"name": name}


def _bomb(name):
    return _("“%(name)s” was refused: its compressed content would be far too large once unpacked.") % {
        "name": name
    }


def inspect_upload(upload):
    """Validate one uploaded file; return (clean name, content type, sha256).

    Raises ValidationError with a Chinese message naming what is allowed.
    """
    name = clean_original_name(upload.name)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ALLOWED_TYPES:
        raise ValidationError(
            _("“%(name)s” is not an accepted file type. Accepted: %(allowed)s.")
            % {"name": name, "allowed": ALLOWED_LABEL}
        )
    if upload.size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    if upload.size > settings.EVIDENCE_MAX_FILE_SIZE:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)s.")
            % {"name": name, "limit": filesizeformat(settings.EVIDENCE_MAX_FILE_SIZE)}
        )
    claimed = ALLOWED_TYPES[suffix][0]
    content_type = detect_content_type(upload, claimed, name)
    if content_type != claimed:
        raise ValidationError(
            _("The content of “%(name)s” does not match its type. Accepted: %(allowed)s.")
            % {"name": name, "allowed": ALLOWED_LABEL}
        )
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return name, content_type, digest.hexdigest()


def validate_upload_count(files, kept=0):
    """At least one and at most EVIDENCE_MAX_FILES files: new uploads and `kept` files
    (carried from the returned version) together."""
    if not files and not kept:
        raise ValidationError(_("Attach at least one evidence file."))
    if len(files) + kept > settings.EVIDENCE_MAX_FILES:
        raise ValidationError(
            _("At most %(count)d files per check-in.") % {"count": settings.EVIDENCE_MAX_FILES}
        )


# Only types we accept are ever served under their own type; anything else (a row forged or
# left from older rules, say text/html or image/svg+xml) goes out as opaque bytes.
_SERVABLE_TYPES = frozenset(content_type for content_type, _magic in ALLOWED_TYPES.values())


def _file_headers(response, name, content_type, *, attachment=True, cache="private, no-store"):
    """The headers of every stored file the portal serves: its checked type, never sniffed,
    under its display name (filename*=utf-8''…, RFC 5987/6266, for Chinese names)."""
    response["Content-Type"] = content_type
    response["Content-Disposition"] = content_disposition_header(attachment, name)
    response["X-Content-Type-Options"] = "nosniff"
    # Should a browser render it anyway, it gets no scripts, no styles and no same-origin access.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = cache
    return response


def x_accel_path(field_file):
    """The internal nginx URI of a stored file when EVIDENCE_X_ACCEL_PREFIX is set, else None.

    Only for files on local disk (nginx reads MEDIA_ROOT through an `internal` location).
    """
    prefix = getattr(settings, "EVIDENCE_X_ACCEL_PREFIX", "")
    if not prefix or not isinstance(field_file.storage, FileSystemStorage):
        return None
    stored = PurePosixPath(field_file.name)
    if stored.is_absolute() or ".." in stored.parts or "\\" in field_file.name:
        return None
    return "/" + prefix.strip("/") + "/" + quote(str(stored), safe="/")


def attachment_response(field_file, name, content_type):
    """Serve a stored file as a download under its display name, never rendered inline.

    The caller has already checked the user may see it (a visible_to queryset). With
    EVIDENCE_X_ACCEL_PREFIX set and local storage, nginx sends the bytes (X-Accel-Redirect).
    """
    if content_type not in _SERVABLE_TYPES:
        content_type = "application/octet-stream"
    internal_path = x_accel_path(field_file)
    if internal_path is not None:
        if not field_file.storage.exists(field_file.name):
            raise Http404(_("The file is missing from storage."))
        response = HttpResponse(b"")
        response["X-Accel-Redirect"] = internal_path
        return _file_headers(response, name, content_type)
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404(_("The file is missing from storage.")) from None
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    return _file_headers(response, name, content_type)


# The only types a preview is served as; a row naming anything else is served as nothing.
_PREVIEW_TYPES = frozenset({"image/jpeg", "image/png"})


def preview_response(field_file, content_type, name):
    """Serve a preview image (re-encoded by tasks.previews, never an uploaded file's bytes)
    inline, under a strict image type that the browser may not sniff past.

    The caller has already checked the user may see the evidence it was made from. Cached by
    the user's browser only (private): a preview never changes once made.
    """
    if content_type not in _PREVIEW_TYPES:
        raise Http404(_("No preview of this file."))
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404(_("The file is missing from storage.")) from None
    response = FileResponse(handle, content_type=content_type)
    return _file_headers(response, name, content_type, attachment=False, cache="private, max-age=86400")
