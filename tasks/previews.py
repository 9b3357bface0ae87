"""Evidence previews: images made from evidence files so that reviewers and liaisons see them
in the page (issue 15, "Evidence in the page").

PDFs are rendered to page images on the server with pypdfium2, not in the browser with PDF.js
(bench/previews.py, figures in bench/RESULTS.md): a phone downloads one JPEG per page it scrolls
to instead of a megabyte of JavaScript, a worker and wasm; the Content-Security-Policy stays
'self' only (no worker-src, no 'wasm-unsafe-eval'); the first pixel is one cached image fetch;
and the same pass makes the thumbnails.

What is made, once per stored file, by a job after the check-in commits (never while the upload
waits), each one a re-encoded JPEG (EXIF orientation applied, every metadata chunk dropped):
- a JPEG or PNG: a thumbnail (THUMB_BOX px) and a view image (VIEW_BOX px) as its page 1; an
  image of more than EVIDENCE_PREVIEW_MAX_PIXELS pixels (a decompression bomb) gets none;
- a PDF: the view image of each of its first EVIDENCE_PREVIEW_MAX_PAGES pages and a thumbnail of
  page 1;
- Office files: nothing (state "none"); the page shows name, size, type and a download.
A file that cannot be read ends in state "failed": the page offers the download, never a 500.

The files are stored with the evidence storage through tasks.evidence_files.staged_files, so a
worker killed mid-job leaves no orphan; the rows and the state are written in one transaction
under the evidence row's lock, so two jobs for the same file (a redelivery, the sweep) make one
set: the loser's files are deleted. A file carried over to a later version (`carried_from`)
shows its source's previews (Evidence.preview_source); a file with the same bytes as one that
has previews gets rows naming the same images, rendered once.
"""

import io
import logging
from dataclasses import dataclass
from datetime import timedelta

import pypdfium2 as pdfium
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from chanjgai_portal import broker

from .evidence import JPEG, PDF, PNG, type_label
from .evidence_files import staged_files
from .models import Evidence, EvidencePreview, PreviewState

logger = logging.getLogger(__name__)

THUMB_BOX = 320
VIEW_BOX = 1600
QUALITY = {EvidencePreview.Kind.THUMB: 80, EvidencePreview.Kind.PAGE: 85}
PREVIEWABLE = frozenset({PDF, JPEG, PNG})
PREVIEW_CONTENT_TYPE = "image/jpeg"
__all__ = ["make_previews", "make_soon", "preview_of", "pages_of", "render", "sweep_pending", "type_label"]
JOB_NAME = "tasks.make_evidence_previews"
# Pending previews older than this are made by the sweep (the job was never enqueued: Redis down).
SWEEP_AFTER = timedelta(minutes=5)


class PreviewRefused(Exception):
    """The file cannot be previewed (too many pixels, no pages, unreadable)."""


@dataclass
class Rendered:
    kind: str
    page: int
    data: bytes
    width: int
    height: int


def initial_state(content_type: str) -> str:
    """The preview state a new evidence file starts in: made later, or never for its type."""
    return PreviewState.PENDING if content_type in PREVIEWABLE else PreviewState.NONE


# --- rendering ----------------------------------------------------------------------------


def _flatten(image):
    """An RGB image: transparency composed onto white, other modes (CMYK, 16-bit, palette) converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _encode(image, kind, page):
    """A fresh JPEG of `image`: written from pixels only, so no EXIF, XMP, ICC or text chunk survives."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY[kind], progressive=True)
    return Rendered(kind, page, buffer.getvalue(), image.width, image.height)


def _fit(image, box):
    """`image` scaled down to fit a box × box square (never up); a new image, or `image` itself."""
    width, height = image.size
    scale = min(1.0, box / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == image.size:
        return image
    # reducing_gap: a cheap box reduction first, then Lanczos over the last factor of 3.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _view_and_thumb(image, page):
    """The view image (≤ VIEW_BOX) of one page, and the thumbnail made from it."""
    view = _fit(_flatten(image), VIEW_BOX)
    thumb = _fit(view, THUMB_BOX)
    return _encode(view, EvidencePreview.Kind.PAGE, page), _encode(thumb, EvidencePreview.Kind.THUMB, 1)


def render_image(data: bytes) -> tuple[int, list[Rendered]]:
    """(1, [view image, thumbnail]) of a JPEG or PNG; PreviewRefused for a bomb or a broken file."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG"):
                raise PreviewRefused(f"not a JPEG or PNG but {image.format}")
            width, height = image.size
            if width * height > settings.EVIDENCE_PREVIEW_MAX_PIXELS:
                raise PreviewRefused(f"{width}×{height} pixels is more than EVIDENCE_PREVIEW_MAX_PIXELS")
            if image.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers the view image (draft()
                # keeps each side at least as large as asked: ask for the fitted size).
                scale = min(1.0, VIEW_BOX / max(width, height))
                image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            image.load()
            upright = ImageOps.exif_transpose(image)
            view, thumb = _view_and_thumb(upright, 1)
    except PreviewRefused:
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise PreviewRefused(f"{error.__class__.__name__}: {error}") from None
    return 1, [view, thumb]


def render_pdf(data: bytes, max_pages: int | None = None) -> tuple[int, list[Rendered]]:
    """(page count, [view image of each of the first max_pages pages…, thumbnail of page 1])."""
    max_pages = settings.EVIDENCE_PREVIEW_MAX_PAGES if max_pages is None else max_pages
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        raise PreviewRefused(f"PdfiumError: {error}") from None
    try:
        count = len(document)
        if count < 1:
            raise PreviewRefused("the PDF has no pages")
        out = []
        for index in range(min(count, max_pages)):
            page = document[index]
            try:
                width, height = page.get_size()
                # The longest side becomes VIEW_BOX pixels, whatever size the page claims.
                scale = VIEW_BOX / max(width, height, 1.0)
                image = page.render(scale=scale).to_pil()
            finally:
                page.close()
            view, thumb = _view_and_thumb(image, index + 1)
            out.append(view)
            if index == 0:
                out.append(thumb)
        return count, out
    except pdfium.PdfiumError as error:
        raise PreviewRefused(f"PdfiumError: {error}") from None
    finally:
        document.close()


def render(content_type: str, data: bytes) -> tuple[int, list[Rendered]]:
    """The page count and the preview images of a file of this type."""
    if content_type == PDF:
        return render_pdf(data)
    if content_type in (JPEG, PNG):
        return render_image(data)
    raise PreviewRefused(f"no preview for {content_type}")


# --- the job's service --------------------------------------------------------------------


class _AlreadyMade(Exception):
    pass


def _set_state(evidence_id, state, page_count=None):
    """Settle a pending file's state (a conditional update: a state already settled stays)."""
    Evidence.objects.filter(pk=evidence_id, preview_state=PreviewState.PENDING).update(
        preview_state=state, page_count=page_count
    )


def make_previews(evidence_id: int) -> str | None:
    """Make the previews of one evidence file unless that was done; returns its preview state.

    Idempotent: a file whose state is no longer pending is left as it is, and of two jobs
    racing for one file the second finds the state settled under the row lock and drops
    what it rendered."""
    evidence = Evidence.objects.filter(pk=evidence_id).first()
    if evidence is None:
        return None
    if evidence.preview_state != PreviewState.PENDING:
        return evidence.preview_state
    source = evidence.preview_source()
    if source.pk != evidence.pk:
        make_previews(source.pk)
        source.refresh_from_db(fields=["preview_state", "page_count"])
        _set_state(evidence.pk, source.preview_state, source.page_count)
        return Evidence.objects.values_list("preview_state", flat=True).get(pk=evidence.pk)
    if evidence.content_type not in PREVIEWABLE:
        _set_state(evidence.pk, PreviewState.NONE)
        return PreviewState.NONE
    reused = _reuse_identical(evidence)
    if reused is not None:
        return reused
    try:
        with evidence.file.open("rb") as handle:
            data = handle.read()
        page_count, rendered = render(evidence.content_type, data)
    except Exception as error:  # anything a hostile or broken file does: no preview, never a crash
        logger.warning("No preview for evidence %s (%s): %s", evidence.pk, evidence.original_name, error)
        _set_state(evidence.pk, PreviewState.FAILED)
        return PreviewState.FAILED
    try:
        with staged_files() as staged:
            rows = []
            for item in rendered:
                row = EvidencePreview(
                    evidence_id=evidence.pk, kind=item.kind, page=item.page, content_type=PREVIEW_CONTENT_TYPE,
                    width=item.width, height=item.height, bytes=len(item.data),
                )
                staged.save(row.file, f"{item.kind}.jpg", ContentFile(item.data))
                rows.append(row)
            with transaction.atomic():
                locked = Evidence.objects.select_for_update().only("preview_state").get(pk=evidence.pk)
                if locked.preview_state != PreviewState.PENDING:
                    raise _AlreadyMade  # rolls back; staged_files deletes the files no row names
                EvidencePreview.objects.bulk_create(rows)
                Evidence.objects.filter(pk=evidence.pk).update(
                    preview_state=PreviewState.READY, page_count=page_count
                )
    except _AlreadyMade:
        return Evidence.objects.values_list("preview_state", flat=True).get(pk=evidence.pk)
    return PreviewState.READY


def _reuse_identical(evidence):
    """Give `evidence` the previews of an earlier file with the same bytes (the same SHA-256 and
    type: a circular sent to every enterprise, a re-upload), naming the same stored images.
    Returns the file's state when it found such a file, else None."""
    twin = (
        Evidence.objects.filter(
            sha256=evidence.sha256, content_type=evidence.content_type, size=evidence.size,
            preview_state=PreviewState.READY,
        )
        .exclude(pk=evidence.pk)
        .order_by("pk")
        .first()
    )
    if twin is None:
        return None
    with transaction.atomic():
        locked = Evidence.objects.select_for_update().only("preview_state").get(pk=evidence.pk)
        if locked.preview_state != PreviewState.PENDING:
            return locked.preview_state
        EvidencePreview.objects.bulk_create(
            EvidencePreview(
                evidence_id=evidence.pk, kind=p.kind, page=p.page, file=p.file.name, content_type=p.content_type,
                width=p.width, height=p.height, bytes=p.bytes,
            )
            for p in EvidencePreview.objects.filter(evidence=twin)
        )
        Evidence.objects.filter(pk=evidence.pk).update(preview_state=PreviewState.READY, page_count=twin.page_count)
    return PreviewState.READY


def make_soon(evidence_ids) -> None:
    """Once the caller's transaction commits, enqueue the job that makes these files' previews.

    Never raises and never blocks the caller on Redis (chanjgai_portal.broker); what is not
    enqueued is made by the sweep (sweep_pending) or `manage.py make_evidence_previews`."""
    ids = [pk for pk in evidence_ids if pk is not None]
    if ids:
        transaction.on_commit(lambda: broker.enqueue_named(JOB_NAME, (ids,), what="evidence previews"))


def pending(older_than: timedelta | None = None):
    """Evidence whose previews are still to be made (uploaded before now - older_than)."""
    queryset = Evidence.objects.filter(preview_state=PreviewState.PENDING)
    if older_than is not None:
        queryset = queryset.filter(uploaded_at__lt=timezone.now() - older_than)
    return queryset.order_by("pk")


def sweep_pending(limit: int = 200) -> int:
    """Make the previews no job made (enqueued while Redis was down); returns how many were tried."""
    ids = list(pending(SWEEP_AFTER).values_list("pk", flat=True)[:limit])
    for pk in ids:
        make_previews(pk)
    return len(ids)


# --- reading ------------------------------------------------------------------------------


def visible_evidence(user, pk: int) -> Evidence:
    """The evidence file `pk` if the user may download it (the same check as the download), else
    Evidence.DoesNotExist."""
    return Evidence.objects.visible_to(user).get(pk=pk)


def preview_of(evidence: Evidence, kind: str, page: int = 1) -> EvidencePreview:
    """One preview image of a (visible) evidence file, or EvidencePreview.DoesNotExist."""
    return EvidencePreview.objects.get(evidence=evidence.preview_source(), kind=kind, page=page)


def pages_of(evidence: Evidence):
    """The page images of a (visible) evidence file, in order."""
    return EvidencePreview.objects.filter(
        evidence=evidence.preview_source(), kind=EvidencePreview.Kind.PAGE
    ).order_by("page")
