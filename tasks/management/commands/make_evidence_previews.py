"""manage.py make_evidence_previews: make the previews of evidence that has none yet (backfill)."""

from django.core.management.base import BaseCommand

from tasks.models import Evidence, PreviewState
from tasks.previews import make_previews, pending


class Command(BaseCommand):
    help = (
        "Make the thumbnails and page images of every evidence file still waiting for them "
        "(files uploaded before previews existed, or whose job was lost), in this process. "
        "Files that have them are left alone; a second run does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retry-failed", action="store_true", help="also try again the files whose preview failed"
        )

    def handle(self, *args, retry_failed=False, **options):
        if retry_failed:
            Evidence.objects.filter(preview_state=PreviewState.FAILED).update(preview_state=PreviewState.PENDING)
        counts = {}
        for pk in pending().values_list("pk", flat=True).iterator():
            state = make_previews(pk)
            counts[state] = counts.get(state, 0) + 1
        summary = ", ".join(f"{state}: {count}" for state, count in sorted(counts.items(), key=str)) or "nothing to do"
        self.stdout.write(f"evidence previews: {summary}")
