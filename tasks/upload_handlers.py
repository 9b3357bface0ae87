"""Upload limits enforced while the request body streams in, before anything is kept whole.

EvidenceLimitUploadHandler is the first of FILE_UPLOAD_HANDLERS: it sees every chunk of every
uploaded file before Django's memory and temporary-file handlers store it, and stops the upload
as soon as one file passes EVIDENCE_MAX_FILE_SIZE, the request's files together pass
EVIDENCE_MAX_FILE_SIZE × EVIDENCE_MAX_FILES, or there are more than EVIDENCE_MAX_FILES files.
A request whose declared Content-Length is already beyond that is stopped before its first
file byte. The partly received file is deleted at once (Django closes the handlers' files), the
rest of the body is read in fixed-size chunks and thrown away so the browser gets the answer
page, and the view asks `upload_refusal(request)` why the files are missing.

These limits protect the server; the rules a file must pass (type, content, size) stay in
tasks.evidence, which every path (web, API, admin, jobs) goes through.

CleanTemporaryFileUploadHandler (last, in place of Django's TemporaryFileUploadHandler) spools
files too large for memory into FILE_UPLOAD_TEMP_DIR as temporary files without a name on
disk: a web worker killed mid-upload leaves nothing behind (the kernel frees the space with
the process), where Django's named temporary files stayed in /tmp for good. A disk that fills
up while the upload streams in stops it like a limit does, with a 507 and nothing kept.
"""

import os
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from chanjgai_portal.storage import is_storage_full, storage_full_message

REFUSAL_ATTRIBUTE = "_upload_refusal"

# What a multipart body carries besides the files' bytes: the form fields (Django caps them at
# DATA_UPLOAD_MAX_MEMORY_SIZE) and each part's headers and boundary.
PART_OVERHEAD_BYTES = 64 * 1024
DRAIN_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class UploadRefusal:
    """Why an upload was stopped: a Chinese message and the HTTP status that says it."""

    message: str
    status: int


def upload_refusal(request):
    """The UploadRefusal of this request's stopped upload, or None when nothing was stopped.

    Read request.POST / request.FILES (or DRF's request.data) first: parsing is lazy.
    """
    return getattr(request, REFUSAL_ATTRIBUTE, None)


def max_request_file_bytes():
    return settings.EVIDENCE_MAX_FILE_SIZE * settings.EVIDENCE_MAX_FILES


class EvidenceLimitUploadHandler(FileUploadHandler):
    """Counts the bytes and files of a multipart upload and stops it at the evidence limits."""

    def __init__(self, request=None):
        super().__init__(request)
        self.max_file_bytes = settings.EVIDENCE_MAX_FILE_SIZE
        self.max_files = settings.EVIDENCE_MAX_FILES
        self.max_total_bytes = max_request_file_bytes()
        self.total_bytes = 0
        self.file_count = 0
        self.declared_too_large = False
        self.input_data = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        allowance = (
            self.max_total_bytes
            + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)
            + PART_OVERHEAD_BYTES * (self.max_files + 1)
        )
        self.declared_too_large = content_length > allowance
        self.input_data = input_data
        return None  # let the other handlers parse as usual

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.declared_too_large:
            self._stop(self._total_message(), 413)
        self.file_count += 1
        if self.file_count > self.max_files:
            self._stop(
                _("The upload was stopped: at most %(count)d files can be sent at once. Nothing was saved.")
                % {"count": self.max_files},
                400,
            )

    def receive_data_chunk(self, raw_data, start):
        self.total_bytes += len(raw_data)
        if start + len(raw_data) > self.max_file_bytes:
            self._stop(
                _("The upload was stopped: “%(name)s” is larger than %(limit)s. Nothing was saved.")
                % {"name": self._display_name(), "limit": filesizeformat(self.max_file_bytes)},
                413,
            )
        if self.total_bytes > self.max_total_bytes:
            self._stop(self._total_message(), 413)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers build the uploaded file

    def _total_message(self):
        return _("The upload was stopped: the files together are larger than %(limit)s. Nothing was saved.") % {
            "limit": filesizeformat(self.max_total_bytes)
        }

    def _display_name(self):
        from .evidence import clean_original_name

        return clean_original_name(self.file_name)

    def _stop(self, message, status):
        stop_upload(self.request, self.input_data, message, status)


def stop_upload(request, input_data, message, status):
    """Record why the upload stops (upload_refusal), drop the rest of the body, stop parsing."""
    if request is not None and upload_refusal(request) is None:
        setattr(request, REFUSAL_ATTRIBUTE, UploadRefusal(message, status))
    if input_data is None:
        raise StopUpload(connection_reset=False)
    # Read the rest of the body and drop it, so the browser receives the page explaining
    # the refusal instead of a reset connection. Not Django's own draining
    # (connection_reset=False): it iterates the stream by lines, which holds a body
    # without newlines (2 GB of zeros) whole in memory.
    while input_data.read(DRAIN_CHUNK_BYTES):
        pass
    raise StopUpload(connection_reset=True)


def upload_temp_dir():
    """FILE_UPLOAD_TEMP_DIR (default MEDIA_ROOT/.upload-tmp), created when first needed."""
    folder = settings.FILE_UPLOAD_TEMP_DIR or os.path.join(settings.MEDIA_ROOT, ".upload-tmp")
    os.makedirs(folder, exist_ok=True)
    return folder


class SpooledUploadedFile(UploadedFile):
    """An uploaded file spooled to a temporary file that has no name on disk (O_TMPFILE, or
    unlinked at once where the file system lacks it): closing it, or the process ending in
    any way, frees it. It offers no temporary_file_path(), so storages copy its bytes."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.TemporaryFile(suffix=".upload", dir=upload_temp_dir())
        super().__init__(file, name, content_type, size, charset, content_type_extra)


class CleanTemporaryFileUploadHandler(FileUploadHandler):
    """Django's TemporaryFileUploadHandler, with files that cannot outlive the request and a
    full disk turned into a 507 refusal (the part received is freed at once)."""

    def __init__(self, request=None):
        super().__init__(request)
        self.input_data = None
        # No `file` attribute until a file starts: Django's parser closes `handler.file` of
        # every handler that has one when an upload is stopped.

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.input_data = input_data
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        try:
            self.file = SpooledUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)
        except OSError as error:
            self._failed(error)

    def receive_data_chunk(self, raw_data, start):
        try:
            self.file.write(raw_data)
        except OSError as error:
            self._failed(error)

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self):
        self._discard()

    def _discard(self):
        if getattr(self, "file", None) is not None:
            self.file.close()

    def _failed(self, error):
        self._discard()
        if not is_storage_full(error):
            raise error
        stop_upload(self.request, self.input_data, storage_full_message(), 507)
