"""Evidence file rules: which files are accepted, recognised by their content."""

import hashlib
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# (extension, content type, magic bytes at offset 0)
_PDF = (b"%PDF-",)
_JPEG = (b"\xff\xd8\xff",)
_PNG = (b"\x89PNG\r\n\x1a\n",)
_ZIP = (b"PK\x03\x04",)  # Office Open XML containers
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy Office documents

ALLOWED_TYPES = {
    ".pdf": ("application/pdf", _PDF),
    ".jpg": ("image/jpeg", _JPEG),
    ".jpeg": ("image/jpeg", _JPEG),
    ".png": ("image/png", _PNG),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    ".doc": ("application/msword", _OLE),
    ".xls": ("application/vnd.ms-excel", _OLE),
}

ALLOWED_LABEL = "PDF、JPG、PNG、Word(DOC/DOCX)、Excel(XLS/XLSX)、PowerPoint(PPTX)"


def allowed_extensions():
    return ",".join(sorted(ALLOWED_TYPES))


def clean_original_name(name):
    """The user's file name without any path parts or control characters, for display."""
    name = PureWindowsPath(PurePosixPath(name or "").name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return name[:200] or "file"


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
    content_type, magics = ALLOWED_TYPES[suffix]
    upload.seek(0)
    head = upload.read(16)
    if not any(head.startswith(magic) for magic in magics):
        raise ValidationError(
            _("The content of “%(name)s” does not match its type. Accepted: %(allowed)s.")
            % {"name": name, "allowed": ALLOWED_LABEL}
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return name, content_type, digest.hexdigest()


def validate_upload_count(files):
    if not files:
        raise ValidationError(_("Attach at least one evidence file."))
    if len(files) > settings.EVIDENCE_MAX_FILES:
        raise ValidationError(
            _("At most %(count)d files per check-in.") % {"count": settings.EVIDENCE_MAX_FILES}
        )


def attachment_response(field_file, name, content_type):
    """Serve a stored file as a download under its display name, never rendered inline.

    The caller has already checked the user may see it (a visible_to queryset).
    """
    from django.http import FileResponse, Http404

    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404(_("The file is missing from storage.")) from None
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
