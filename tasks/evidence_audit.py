"""Housekeeping of stored files: settle what crashed submissions left, report what does not add up.

- sweep_staged_files(): staging rows (tasks.evidence_files) older than
  EVIDENCE_STAGING_KEEP_HOURS belong to submissions that never finished (a killed worker, a
  COMMIT whose outcome was unknown): a file some row names is kept, any other is deleted, and
  the staging rows go. Also deletes what is older than that in FILE_UPLOAD_TEMP_DIR.
- audit_files(): walks the storage and reports files that no row names and that are not
  staged ("unknown": nothing in the portal leads to them), and rows whose file is missing.
  It reports only: an unknown file may be the half of a restore in progress, so deleting it
  is a person's decision.

Run hourly (sweep) and daily (audit) by beat, or by `manage.py check_evidence_files`.
"""

import datetime
import logging
import os
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from chanjgai_portal.storage import IMPORT_UPLOADS_FOLDER

from .evidence_files import file_fields, owned_names, settle
from .models import StagedEvidenceFile
from .upload_handlers import upload_temp_dir

logger = logging.getLogger(__name__)

# Folders whose files have no rows by design: sheets between preview and import (their own
# sweep, spreadsheets.imports.uploads.discard_stale_uploads). Dot-folders (.upload-tmp) are skipped too.
UNOWNED_FOLDERS = frozenset({IMPORT_UPLOADS_FOLDER})
EXAMPLES = 20


@dataclass
class SweepResult:
    staged_settled: int = 0
    staged_files_deleted: list = field(default_factory=list)
    temporary_files_deleted: int = 0


@dataclass
class AuditResult:
    files_checked: int = 0
    rows_checked: int = 0
    staged: int = 0
    unknown_files: list = field(default_factory=list)
    rows_without_file: list = field(default_factory=list)  # (model label, pk, name)

    @property
    def ok(self):
        return not self.unknown_files and not self.rows_without_file


def sweep_staged_files(*, now=None, keep_hours=None, storage=None):
    """Settle staging rows older than `keep_hours` (EVIDENCE_STAGING_KEEP_HOURS) and remove
    temporary upload files as old; returns a SweepResult."""
    keep_hours = settings.EVIDENCE_STAGING_KEEP_HOURS if keep_hours is None else keep_hours
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=keep_hours)
    result = SweepResult()
    stale = StagedEvidenceFile.objects.filter(created_at__lte=cutoff).order_by("pk")
    while True:
        batch = list(stale.values_list("pk", "name")[:500])
        if not batch:
            break
        deleted = settle(batch, storage=storage)
        result.staged_files_deleted += deleted
        left = StagedEvidenceFile.objects.filter(pk__in=[pk for pk, _name in batch]).count()
        result.staged_settled += len(batch) - left
        if left:  # files that could not be deleted now keep their rows: try again next time
            break
    result.temporary_files_deleted = _remove_old_temporary_files(cutoff)
    if result.staged_settled:
        logger.info(
            "settled %d staged file(s) of unfinished submissions; deleted %d",
            result.staged_settled,
            len(result.staged_files_deleted),
        )
    return result


def _remove_old_temporary_files(cutoff):
    folder = upload_temp_dir()
    limit = cutoff.timestamp()
    removed = 0
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime <= limit:
                os.remove(entry.path)
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def _walk(storage, folder=""):
    """(folder, file names) of every folder of `storage` below `folder`, skipping UNOWNED_FOLDERS
    and dot-folders."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    yield folder, files
    for sub in sorted(folders):
        path = f"{folder}/{sub}" if folder else sub
        if sub.startswith(".") or path in UNOWNED_FOLDERS:
            continue
        yield from _walk(storage, path)


def audit_files(*, storage=None):
    """Compare the storage with the rows: files nothing names (nor a staging row), rows whose
    file is gone. Memory stays bounded by one folder's listing."""
    storage = storage or default_storage
    result = AuditResult(staged=StagedEvidenceFile.objects.count())
    for folder, files in _walk(storage):
        names = [f"{folder}/{name}" if folder else name for name in files]
        result.files_checked += len(names)
        if not names:
            continue
        known = owned_names(names)
        known.update(StagedEvidenceFile.objects.filter(name__in=names).values_list("name", flat=True))
        result.unknown_files += [name for name in names if name not in known]
    for model, field_name in file_fields():
        # In name order a folder's rows come together: list each folder once.
        rows = model._base_manager.exclude(**{field_name: ""}).order_by(field_name).values_list("pk", field_name)
        current, present = None, set()
        for pk, name in rows.iterator():
            result.rows_checked += 1
            folder = os.path.dirname(name)
            if folder != current:
                current, present = folder, _listing(storage, folder)
            if os.path.basename(name) not in present:
                result.rows_without_file.append((model._meta.label, pk, name))
    if result.unknown_files:
        logger.warning(
            "%d stored file(s) that no row names, e.g. %s", len(result.unknown_files), result.unknown_files[:EXAMPLES]
        )
    if result.rows_without_file:
        logger.warning(
            "%d row(s) whose file is missing, e.g. %s", len(result.rows_without_file), result.rows_without_file[:EXAMPLES]
        )
    return result


def _listing(storage, folder):
    try:
        return set(storage.listdir(folder)[1])
    except FileNotFoundError:
        return set()
