"""Local file storage that never leaves a partial file behind, the "storage is full" error, and
the names of the storage folders that several apps share.

Django's FileSystemStorage writes a file in place and, when the write fails half way (a full
disk, a quota), leaves the 0-byte or partial file under its final name. DurableFileSystemStorage
(EVIDENCE_STORAGE=local) removes what it wrote when the write fails, and flushes the bytes and
the folder entry to the disk (fsync) before it answers, so a file the database is about to
name survives a power cut. A full disk surfaces as StorageFull, which the site answers with its
507 page and the API with a JSON 507 (chanjgai_portal.middleware, api.errors).
"""

import errno
import os

from django.core.files.storage import FileSystemStorage
from django.utils.translation import gettext as _

# Folders of the default storage that more than one app must know by name. Uploaded sheets
# wait in IMPORT_UPLOADS_FOLDER/<user id>/ between preview and confirm (spreadsheets.imports.uploads
# writes and sweeps them; tasks.evidence_audit skips them, as no row names them).
IMPORT_UPLOADS_FOLDER = "imports"

# The errors that mean "no room": the disk (ENOSPC), the user's quota (EDQUOT), a file-size
# limit (EFBIG, e.g. ulimit -f).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class StorageFull(OSError):
    """Nothing could be stored because the storage has no room left; nothing was kept."""

    def __init__(self, name="", cause=None):
        code = getattr(cause, "errno", None) or errno.ENOSPC
        super().__init__(code, os.strerror(code), name)


def is_storage_full(error):
    """Whether `error` (any exception) says the storage has no room left."""
    return isinstance(error, OSError) and error.errno in FULL_ERRNOS


def storage_full_message():
    """What the uploader is told (site page, API detail, a stopped upload) when nothing was saved."""
    return _(
        "The server's storage is full, so nothing was saved. "
        "Please try again later, or tell the city reform office."
    )


class DurableFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose save is all or nothing: fsynced when it returns, removed when not.

    Always streams the content into a new file created with O_EXCL (never moves a temporary
    file into place, which would skip the fsync), so the file removed after a failure is
    certainly the one this call created.
    """

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        try:
            os.makedirs(directory, exist_ok=True)
        except FileExistsError:
            raise FileExistsError(f"{directory} exists and is not a directory.") from None
        except OSError as error:
            raise (StorageFull(name, error) if is_storage_full(error) else error) from error
        while True:
            try:
                fd = os.open(full_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileExistsError:
                name = self.get_available_name(name)
                full_path = self.path(name)
                continue
            except OSError as error:
                raise (StorageFull(name, error) if is_storage_full(error) else error) from error
            break
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk.encode() if isinstance(chunk, str) else chunk)
                out.flush()
                os.fsync(out.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(full_path, self.file_permissions_mode)
        except BaseException as error:
            # A half-written file must not stay under a name someone may later trust.
            try:
                os.remove(full_path)
            except FileNotFoundError:
                pass
            if is_storage_full(error):
                raise StorageFull(name, error) from error
            raise
        _fsync_directory(directory)
        name = os.path.relpath(full_path, self.location)
        self._ensure_location_group_id(full_path)
        return str(name).replace("\\", "/")


def _fsync_directory(directory):
    """Make the new folder entry durable too (POSIX: a file's fsync does not cover its name)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
