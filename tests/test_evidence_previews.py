"""Evidence previews (tasks.previews): made once by a job after the check-in commits, re-encoded,
served only through the download's permission check, and never a 500 for a hostile file."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from PIL import Image

from tasks import previews, services
from tasks.models import Evidence, EvidencePreview, PreviewState

from . import factories as f

PDF = "application/pdf"


def _upload(name, content, content_type):
    return SimpleUploadedFile(name, content, content_type=content_type)


def _submit(world, assignment_of, files, enterprise_index=0):
    """Submit a check-in of world.enterprises[i] with `files` [(name, bytes, type)]; the jobs do not run."""
    enterprise = world.enterprises[enterprise_index]
    return services.submit_checkin(
        world.liaisons[enterprise_index], assignment_of(enterprise), "佐证材料见附件。",
        [_upload(*item) for item in files],
    )


def _png_bomb(width=40000, height=40000):
    """A PNG whose header claims width × height pixels, with a few bytes of data: decoding it
    would take gigabytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _image(response):
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


# --- the job ------------------------------------------------------------------------------


def test_the_job_makes_a_pdfs_page_images_and_thumbnail_once(world, assignment_of):
    checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(pages=3), PDF)])
    evidence = checkin.evidence.get()
    assert evidence.preview_state == PreviewState.PENDING  # the upload does not wait for it

    assert previews.make_previews(evidence.pk) == PreviewState.READY
    evidence.refresh_from_db()
    assert evidence.page_count == 3
    rows = list(EvidencePreview.objects.filter(evidence=evidence).values_list("kind", "page"))
    assert sorted(rows) == [("page", 1), ("page", 2), ("page", 3), ("thumb", 1)]
    thumb = EvidencePreview.objects.get(evidence=evidence, kind="thumb")
    assert max(thumb.width, thumb.height) == previews.THUMB_BOX
    page = EvidencePreview.objects.get(evidence=evidence, kind="page", page=1)
    assert max(page.width, page.height) == previews.VIEW_BOX
    files = set(EvidencePreview.objects.values_list("file", flat=True))

    # Idempotent: a second run (a redelivered job, the sweep, the backfill) changes nothing.
    assert previews.make_previews(evidence.pk) == PreviewState.READY
    call_command("make_evidence_previews", stdout=io.StringIO())
    assert set(EvidencePreview.objects.values_list("file", flat=True)) == files
    assert EvidencePreview.objects.count() == 4


def test_a_pdf_beyond_the_page_cap_shows_its_first_pages_and_says_so(world, assignment_of, settings):
    settings.EVIDENCE_PREVIEW_MAX_PAGES = 2
    checkin = _submit(world, assignment_of, [("长文件.pdf", f.real_pdf_bytes(pages=4), PDF)])
    evidence = checkin.evidence.get()
    previews.make_previews(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.page_count == 4
    assert list(previews.pages_of(evidence).values_list("page", flat=True)) == [1, 2]

    client = Client()
    client.force_login(world.county_users[0])
    status = client.get(reverse("tasks:evidence_preview_status", args=[evidence.pk])).json()
    assert status["page_count"] == 4 and len(status["pages"]) == 2
    assert client.get(reverse("tasks:evidence_page", args=[evidence.pk, 3])).status_code == 404


def test_a_photo_is_turned_upright_and_re_encoded_without_its_metadata(world, assignment_of):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "SecretCam"  # maker
    exif[0x8825] = {2: (32.0, 15.0, 0.0)}  # GPS latitude
    photo = f.image_bytes("JPEG", size=(400, 300), exif=exif.tobytes())
    checkin = _submit(world, assignment_of, [("现场照片.jpg", photo, "image/jpeg")])
    evidence = checkin.evidence.get()
    previews.make_previews(evidence.pk)

    client = Client()
    client.force_login(world.liaisons[0])
    response = client.get(reverse("tasks:evidence_page", args=[evidence.pk, 1]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    assert image.size == (300, 400)  # upright
    assert not image.getexif()  # no orientation, maker or GPS left
    assert b"SecretCam" not in body
    assert body != photo


def test_a_transparent_png_becomes_a_jpeg_on_white(world, assignment_of):
    png = f.image_bytes("PNG", size=(200, 100), colour=(0, 0, 0, 0), mode="RGBA")
    checkin = _submit(world, assignment_of, [("截图.png", png, "image/png")])
    evidence = checkin.evidence.get()
    previews.make_previews(evidence.pk)
    client = Client()
    client.force_login(world.liaisons[0])
    image = _image(client.get(reverse("tasks:evidence_thumb", args=[evidence.pk])))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.getpixel((10, 10))[0] > 240  # white, not black


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("炸弹.png", _png_bomb(), "image/png"),
        ("损坏.jpg", b"\xff\xd8\xff\xe0" + b"\x13\x37" * 500, "image/jpeg"),
        ("损坏.pdf", f.PDF_BYTES, PDF),  # the magic bytes and nothing a reader can use
        ("截断.pdf", f.real_pdf_bytes(pages=2)[:300], PDF),
    ],
)
def test_a_bomb_or_a_broken_file_ends_failed_and_its_page_still_works(world, assignment_of, name, content, content_type):
    checkin = _submit(world, assignment_of, [(name, content, content_type)])
    evidence = checkin.evidence.get()
    assert previews.make_previews(evidence.pk) == PreviewState.FAILED
    assert not EvidencePreview.objects.filter(evidence=evidence).exists()

    client = Client()
    client.force_login(world.county_users[0])
    page = client.get(reverse("tasks:checkin_detail", args=[checkin.pk]))
    assert page.status_code == 200
    assert "无预览：文件无法读取" in page.content.decode()
    assert reverse("tasks:evidence_download", args=[evidence.pk]) in page.content.decode()
    assert client.get(reverse("tasks:evidence_thumb", args=[evidence.pk])).status_code == 404
    assert client.get(reverse("tasks:evidence_preview_status", args=[evidence.pk])).json()["state"] == "failed"


def test_office_files_get_no_preview_and_no_job(world, assignment_of, django_capture_on_commit_callbacks):
    docx = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    with django_capture_on_commit_callbacks() as callbacks:
        checkin = _submit(
            world, assignment_of,
            [("制度汇编.docx", docx.getvalue(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document")],
        )
    evidence = checkin.evidence.get()
    assert evidence.preview_state == PreviewState.NONE
    assert not [c for c in callbacks if "preview" in repr(c)]

    client = Client()
    client.force_login(world.liaisons[0])
    html = client.get(reverse("tasks:assignment_detail", args=[checkin.assignment_id])).content.decode()
    assert "制度汇编.docx" in html and "Word" in html
    assert "evidence__open" not in html  # nothing to open in the viewer: the download is the way


def test_the_same_bytes_are_rendered_once(world, assignment_of, monkeypatch):
    content = f.real_pdf_bytes(pages=2)
    first = _submit(world, assignment_of, [("通知.pdf", content, PDF)], 0).evidence.get()
    second = _submit(world, assignment_of, [("通知.pdf", content, PDF)], 2).evidence.get()
    previews.make_previews(first.pk)

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(previews, "render", no_render)
    assert previews.make_previews(second.pk) == PreviewState.READY
    assert set(EvidencePreview.objects.filter(evidence=second).values_list("file", flat=True)) == set(
        EvidencePreview.objects.filter(evidence=first).values_list("file", flat=True)
    )


def test_a_crash_while_saving_the_rows_leaves_no_preview_file(world, assignment_of, monkeypatch, settings):
    checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(pages=2), PDF)])
    evidence = checkin.evidence.get()

    def crash(*args, **kwargs):
        raise RuntimeError("the worker dies here")

    monkeypatch.setattr(EvidencePreview.objects, "bulk_create", crash)
    with pytest.raises(RuntimeError):
        previews.make_previews(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.preview_state == PreviewState.PENDING  # tried again by the sweep or the backfill
    left = list((settings.MEDIA_ROOT / "previews").rglob("*.jpg")) if (settings.MEDIA_ROOT / "previews").exists() else []
    assert left == []


def test_the_backfill_command_makes_what_is_missing(world, assignment_of):
    checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(), PDF), ("照片.jpg", f.image_bytes(), "image/jpeg")])
    out = io.StringIO()
    call_command("make_evidence_previews", stdout=out)
    assert "ready: 2" in out.getvalue()
    assert set(checkin.evidence.values_list("preview_state", flat=True)) == {PreviewState.READY}
    out = io.StringIO()
    call_command("make_evidence_previews", stdout=out)
    assert "nothing to do" in out.getvalue()


def test_a_carried_over_file_shows_its_sources_previews(world, assignment_of):
    if not hasattr(Evidence, "carried_from"):
        pytest.skip("Evidence.carried_from (resubmission with kept files) is not on this branch yet")
    source = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(), PDF)]).evidence.get()
    previews.make_previews(source.pk)
    copy = Evidence.objects.create(
        checkin=source.checkin, file=source.file.name, original_name=source.original_name, size=source.size,
        content_type=source.content_type, sha256=source.sha256, carried_from=source,
    )
    assert copy.preview_source() == source
    assert previews.make_previews(copy.pk) == PreviewState.READY
    assert not EvidencePreview.objects.filter(evidence=copy).exists()  # nothing made twice
    client = Client()
    client.force_login(world.liaisons[0])
    assert client.get(reverse("tasks:evidence_thumb", args=[copy.pk])).status_code == 200


# --- after commit, never on a rollback ------------------------------------------------------


def test_the_job_runs_after_the_submission_commits(world, assignment_of, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(pages=2), PDF)])
    evidence = checkin.evidence.get()
    assert evidence.preview_state == PreviewState.READY  # Celery eager: the job ran on commit
    assert evidence.page_count == 2


def test_no_job_when_the_submission_rolls_back(world, assignment_of, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(), PDF)])
            raise RuntimeError("the request fails after the service")
    assert callbacks == []
    assert not Evidence.objects.exists()
    assert not EvidencePreview.objects.exists()


# --- serving --------------------------------------------------------------------------------


@pytest.fixture
def ready(world, assignment_of):
    """A check-in of e11 (county c1) with a PDF and a photo whose previews are made."""
    checkin = _submit(
        world, assignment_of,
        [("方案.pdf", f.real_pdf_bytes(pages=2), PDF), ("照片.jpg", f.image_bytes(), "image/jpeg")],
    )
    for evidence in checkin.evidence.all():
        previews.make_previews(evidence.pk)
    return checkin


def _urls(evidence):
    return [
        reverse("tasks:evidence_thumb", args=[evidence.pk]),
        reverse("tasks:evidence_page", args=[evidence.pk, 1]),
        reverse("tasks:evidence_preview_status", args=[evidence.pk]),
    ]


def test_preview_images_have_a_strict_type_nosniff_inline_and_private_caching(world, ready):
    client = Client()
    client.force_login(world.county_users[0])
    for evidence in ready.evidence.all():
        for url in _urls(evidence)[:2]:
            response = client.get(url)
            assert response.status_code == 200
            assert response["Content-Type"] == "image/jpeg"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Disposition"].startswith("inline")
            assert response["Cache-Control"].startswith("private")
            assert "sandbox" in response["Content-Security-Policy"]
            assert _image(response).format == "JPEG"


def test_a_preview_row_of_another_type_is_never_served(world, ready):
    preview = EvidencePreview.objects.filter(kind="thumb").first()
    EvidencePreview.objects.filter(pk=preview.pk).update(content_type="image/svg+xml")
    client = Client()
    client.force_login(world.county_users[0])
    assert client.get(reverse("tasks:evidence_thumb", args=[preview.evidence_id])).status_code == 404


def test_previews_follow_the_download_permission_for_every_role_and_city(world, other_city, ready):
    """Who may download may see the previews; everybody else gets 404 (anonymous: the login)."""
    allowed = {
        "liaison of e11": world.liaisons[0],
        "county office c1": world.county_users[0],
        "city office": world.city_user,
        "observer of c1": world.observer,
    }
    refused = {
        "liaison of e12": world.liaisons[1],
        "liaison of e21": world.liaisons[2],
        "county office c2": world.county_users[1],
        "other city's office": other_city.city_user,
        "other city's county": other_city.county_user,
        "other city's liaison": other_city.liaison,
        "other city's observer": other_city.observer,
    }
    for evidence in ready.evidence.all():
        download = reverse("tasks:evidence_download", args=[evidence.pk])
        for label, user in allowed.items():
            client = Client()
            client.force_login(user)
            assert client.get(download).status_code == 200, label
            for url in _urls(evidence):
                assert client.get(url).status_code == 200, (label, url)
        for label, user in refused.items():
            client = Client()
            client.force_login(user)
            assert client.get(download).status_code == 404, label
            for url in _urls(evidence):
                response = client.get(url)
                assert response.status_code == 404, (label, url)
                assert evidence.original_name.encode() not in response.content
        for url in _urls(evidence):
            response = Client().get(url)
            assert response.status_code == 302 and "/login" in response["Location"], url


def test_the_status_endpoint_says_pending_and_then_lists_the_pages(world, assignment_of):
    checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(pages=2), PDF)])
    evidence = checkin.evidence.get()
    client = Client()
    client.force_login(world.liaisons[0])
    url = reverse("tasks:evidence_preview_status", args=[evidence.pk])
    pending = client.get(url).json()
    assert pending["state"] == "pending" and pending["pages"] == [] and pending["thumb"] is None
    page = client.get(reverse("tasks:assignment_detail", args=[checkin.assignment_id])).content.decode()
    assert "预览生成中" in page and 'data-state="pending"' in page

    previews.make_previews(evidence.pk)
    ready = client.get(url).json()
    assert ready["state"] == "ready" and ready["page_count"] == 2
    assert [p["url"] for p in ready["pages"]] == [
        reverse("tasks:evidence_page", args=[evidence.pk, n]) for n in (1, 2)
    ]
    assert ready["thumb"] == reverse("tasks:evidence_thumb", args=[evidence.pk])


def test_the_checkin_page_shows_the_gallery_and_the_viewer(world, ready):
    client = Client()
    client.force_login(world.county_users[0])
    html = client.get(reverse("tasks:checkin_detail", args=[ready.pk])).content.decode()
    assert html.count('class="evidence__item') >= 2
    for evidence in ready.evidence.all():
        assert reverse("tasks:evidence_thumb", args=[evidence.pk]) in html
        assert reverse("tasks:evidence_download", args=[evidence.pk]) in html
    assert 'class="evidence__open"' in html
    assert 'id="evidence-viewer"' in html and "js/evidence-viewer.js" in html
    assert "2 页" in html  # the PDF's page count


def test_previews_are_stored_and_served_from_s3_like_the_evidence(world, assignment_of, s3_storage):
    checkin = _submit(world, assignment_of, [("方案.pdf", f.real_pdf_bytes(pages=2), PDF)])
    evidence = checkin.evidence.get()
    assert previews.make_previews(evidence.pk) == PreviewState.READY
    names = set(EvidencePreview.objects.filter(evidence=evidence).values_list("file", flat=True))
    assert len(names) == 3 and names <= s3_storage.keys()  # in the bucket, beside the evidence
    client = Client()
    client.force_login(world.city_user)
    response = client.get(reverse("tasks:evidence_page", args=[evidence.pk, 2]))
    assert response.status_code == 200 and _image(response).format == "JPEG"
