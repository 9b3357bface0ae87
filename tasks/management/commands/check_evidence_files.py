"""manage.py check_evidence_files: settle staged files, then compare the storage with the rows."""

from django.core.management.base import BaseCommand, CommandError

from tasks.evidence_audit import EXAMPLES, audit_files, sweep_staged_files


class Command(BaseCommand):
    help = (
        "Settle the staged files of submissions that never finished (older than "
        "EVIDENCE_STAGING_KEEP_HOURS, or --keep-hours), then report stored files that no row "
        "names and rows whose file is missing. Exits with status 1 when it finds either."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-hours", type=float, help="settle staged files older than this (default: the setting)")
        parser.add_argument("--no-sweep", action="store_true", help="only report; settle nothing")

    def handle(self, *args, keep_hours=None, no_sweep=False, **options):
        if not no_sweep:
            swept = sweep_staged_files(keep_hours=keep_hours)
            self.stdout.write(
                f"staged files settled: {swept.staged_settled} (deleted {len(swept.staged_files_deleted)}); "
                f"old temporary upload files deleted: {swept.temporary_files_deleted}"
            )
        audit = audit_files()
        self.stdout.write(
            f"files checked: {audit.files_checked}; rows checked: {audit.rows_checked}; "
            f"staged (submission in progress or unsettled): {audit.staged}"
        )
        self.stdout.write(f"files no row names: {len(audit.unknown_files)}")
        for name in audit.unknown_files[:EXAMPLES]:
            self.stdout.write(f"  {name}")
        self.stdout.write(f"rows whose file is missing: {len(audit.rows_without_file)}")
        for label, pk, name in audit.rows_without_file[:EXAMPLES]:
            self.stdout.write(f"  {label} {pk}: {name}")
        if not audit.ok:
            raise CommandError("stored files and rows do not agree (see above)")
