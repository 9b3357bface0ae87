"""Storing uploaded files so that a crash at any instant leaves no file the portal does not know.

A file a row will name (a check-in's evidence, a notice's attachment, a need's attachment, an
export) is written in three steps:

1. stage: a StagedEvidenceFile row with the file's final name is committed in its own
   transaction, before the first byte is written;
2. write: the bytes go to storage under that name (DurableFileSystemStorage: fsynced, and
   removed again if the write fails; a full disk raises StorageFull);
3. the caller's transaction writes the row naming the file; once it has committed the staging
   row is deleted (release). If it rolled back, the file and its staging row are deleted.

A worker killed between any two steps leaves a staging row next to the file (or next to no
file yet); the housekeeping (tasks.evidence_audit) settles staging rows older than
EVIDENCE_STAGING_KEEP_HOURS the same way the failure path does: a file some row names is
kept, any other is deleted. A COMMIT whose outcome is unknown (the connection was lost while
committing) is settled by asking the database again; if it cannot be asked, file and staging
row stay for the housekeeping to decide: an orphan is recoverable, lost evidence is not.

The staging row can only commit on its own when no transaction is open; a caller that holds
one (a management command inside atomic()) stages within it, and files it leaves behind after
a crash are the ones the audit reports as files without a row.
"""

import logging
from contextlib import contextmanager
from functools import partial

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models, transaction

from chanjgai_portal.storage import StorageFull, is_storage_full

from .models import StagedEvidenceFile

logger = logging.getLogger(__name__)

__all__ = ["StorageFull", "is_storage_full", "owned_names", "settle", "staged_files"]


class StagedFiles:
    """The files written inside one `staged_files()` block, with their staging rows."""

    def __init__(self):
        self.staged = []  # (staging row pk, stored name, storage)

    def save(self, field_file, filename, content):
        """Store `content` for the (unsaved) FileField value `field_file`, as FieldFile.save(save=False)
        does, but staged: returns the stored name, which is also set on the instance."""
        field, instance, storage = field_file.field, field_file.instance, field_file.storage
        name = field.generate_filename(instance, filename)
        self._stage(name, storage)
        stored = storage.save(name, content, max_length=field.max_length)
        if stored != name:  # the storage chose another name (it found `name` taken)
            self._stage(stored, storage)
        setattr(instance, field.attname, stored)
        return stored

    def _stage(self, name, storage):
        row = StagedEvidenceFile.objects.create(name=name)
        self.staged.append((row.pk, name, storage))

    def release_on_commit(self):
        """Once the caller's transaction commits, the rows own their files: drop the staging rows."""
        pks = [pk for pk, _name, _storage in self.staged]
        if pks:
            transaction.on_commit(partial(_release, pks), robust=True)

    def settle(self):
        """After a failure: keep the files a committed row names, delete the others."""
        if not self.staged:
            return
        connection = transaction.get_connection()
        try:
            if not connection.in_atomic_block:
                # A lost COMMIT leaves the connection unusable; ask on a fresh one.
                connection.close_if_unusable_or_obsolete()
            by_storage = {}
            for pk, name, storage in self.staged:
                by_storage.setdefault(storage, []).append((pk, name))
            for storage, staged in by_storage.items():
                settle(staged, storage=storage)
        except Exception:  # the database is unreachable: the housekeeping decides later
            logger.warning(
                "Could not settle staged files %s; they stay until the housekeeping does",
                [name for _pk, name, _storage in self.staged],
            )


@contextmanager
def staged_files():
    """A block whose stored files are released when the transaction inside it commits and
    deleted when it does not. Open it outside the caller's transaction::

        with staged_files() as staged:
            staged.save(evidence.file, name, upload)
            with transaction.atomic():
                evidence.save()
    """
    staged = StagedFiles()
    try:
        yield staged
    except BaseException:
        staged.settle()
        raise
    staged.release_on_commit()


def _release(pks):
    StagedEvidenceFile.objects.filter(pk__in=pks).delete()


def settle(staged, *, storage=None):
    """Settle staging rows [(pk, name)]: a file some row names is kept, any other deleted;
    the staging rows go. A file that cannot be deleted keeps its row (tried again later).
    Returns the names deleted."""
    storage = storage or default_storage
    owned = owned_names([name for _pk, name in staged])
    done, deleted = [], []
    for pk, name in staged:
        if name not in owned:
            try:
                storage.delete(name)
            except Exception:  # one unreachable file must not stop the others
                logger.exception("could not delete the staged file %s", name)
                continue
            deleted.append(name)
        done.append(pk)
    StagedEvidenceFile.objects.filter(pk__in=done).delete()
    return deleted


def file_fields():
    """(model, field name) of every FileField of every installed model: the rows that own files."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField)
    ]


def owned_names(names, batch=1000):
    """The subset of stored `names` that some row names."""
    names = list(dict.fromkeys(names))
    owned = set()
    for start in range(0, len(names), batch):
        part = names[start : start + batch]
        for model, field in file_fields():
            owned.update(model._base_manager.filter(**{f"{field}__in": part}).values_list(field, flat=True))
    return owned

