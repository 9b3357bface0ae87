"""Hostile input through both doors, the web form and the API: forged and damaged files, a zip
bomb, empty and oversized files, hostile names, a 10,000-character comment, and bad points.
Each gets a clear refusal (the form again with the error, or a JSON 400/413) and leaves the
database and MEDIA_ROOT exactly as they were."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tasks.models import Assignment, CheckIn, Evidence, ReviewEvent

from . import factories as f
from .helpers_domain import PNG_BYTES, drive, media_files
from .helpers_domain import S as State
from .test_api import api_client
from .test_evidence_hardening import ole_bytes, ooxml_bytes, post_streamed, zip_bomb_docx

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def database_and_media():
    """Everything a refused request must leave untouched, across the whole world."""
    return (
        tuple(CheckIn.objects.order_by("pk").values_list("pk", "state", "points", "description")),
        tuple(Assignment.objects.order_by("pk").values_list("pk", "state", "points")),
        tuple(ReviewEvent.objects.order_by("pk").values_list("pk", "action", "comment", "points")),
        tuple(Evidence.objects.order_by("pk").values_list("pk", "file", "original_name", "content_type")),
        frozenset(media_files()),
    )


def upload(name, content):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def assignment(world, assignment_of):
    return assignment_of(world.enterprises[0])


def post_web(client, world, assignment, files, description="已开展技能竞赛。"):
    client.force_login(world.liaisons[0])
    return client.post(reverse("tasks:submit", args=[assignment.pk]), {"description": description, "files": files})


def post_api(client, world, assignment, files, description="已开展技能竞赛。"):
    return api_client(world.liaisons[0]).post(
        "/api/checkins/",
        {"assignment": assignment.pk, "description": description, "files": files},
        format="multipart",
    )


def refused_text(response):
    """The refusal the user reads: the API's `detail`, or the error list shown above the form."""
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body["detail"], body
        return body["detail"]
    alert = re.search(r'<div class="alert alert--error" role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert alert, "the page shows no error"
    return html.unescape(re.sub(r"<[^>]+>", " ", alert.group(1))).strip()


# case -> (files, the name the refusal must mention; the message's language is checked
# once per message in tests/test_evidence_hardening.py)
HOSTILE_FILES = {
    "png_bytes_named_pdf": (lambda: [upload("伪装.pdf", PNG_BYTES)], "伪装.pdf"),
    "exe_renamed_docx": (lambda: [upload("安装程序.docx", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(500))], "安装程序.docx"),
    "html_named_pdf": (lambda: [upload("页面.pdf", b"<!doctype html><script>alert(1)</script>")], "页面.pdf"),
    "svg_named_png": (
        lambda: [upload("图标.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')],
        "图标.png",
    ),
    "svg_extension": (lambda: [upload("图标.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>')], "图标.svg"),
    "html_extension": (lambda: [upload("页面.html", b"<script>alert(1)</script>")], "页面.html"),
    "xlsx_named_docx": (lambda: [upload("台账.docx", ooxml_bytes("xlsx"))], "台账.docx"),
    "word_named_xls": (lambda: [upload("台账.xls", ole_bytes("WordDocument"))], "台账.xls"),
    "zip_bomb_docx": (lambda: [upload("炸弹.docx", zip_bomb_docx())], "炸弹.docx"),
    "macro_docx": (lambda: [upload("宏.docx", ooxml_bytes("docx", extra=[("word/vbaProject.bin", b"x")]))], "宏.docx"),
    "empty_file": (lambda: [upload("空文件.pdf", b"")], "空文件.pdf"),
    "traversal_without_extension": (
        lambda: [upload("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")],
        "passwd",
    ),
    "good_then_forged": (
        lambda: [f.pdf_upload("好文件.pdf"), upload("坏文件.jpg", b"GIF89a" + bytes(40))],
        "坏文件.jpg",
    ),
}


@pytest.mark.parametrize("door", [post_web, post_api], ids=["web", "api"])
@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_files_are_refused_and_change_nothing(client, world, assignment, door, case):
    before = database_and_media()
    files, shown_name = HOSTILE_FILES[case]
    response = door(client, world, assignment, files())
    assert response.status_code == 400, response.content[:300]
    assert f"“{shown_name}”" in refused_text(response)
    assert database_and_media() == before


@pytest.mark.parametrize("door", [post_web, post_api], ids=["web", "api"])
def test_an_oversized_file_is_stopped_with_413_and_changes_nothing(client, world, assignment, settings, door):
    settings.EVIDENCE_MAX_FILE_SIZE = 64 * 1024
    before = database_and_media()
    response = door(client, world, assignment, [upload("大文件.pdf", b"%PDF-1.4\n" + bytes(200 * 1024))])
    assert response.status_code == 413
    assert "大文件.pdf" in refused_text(response)
    assert database_and_media() == before


@pytest.mark.parametrize("door", [post_web, post_api], ids=["web", "api"])
def test_a_10000_character_description_is_refused(client, world, assignment, door):
    before = database_and_media()
    response = door(client, world, assignment, [f.pdf_upload()], description="说" * 10_000)
    assert response.status_code == 400
    assert CHINESE.search(refused_text(response))
    assert database_and_media() == before


@pytest.mark.parametrize("api", [False, True], ids=["web", "api"])
def test_hostile_names_are_sanitised_and_files_stay_under_generated_names(client, world, assignment, api, tmp_path):
    # Raw names on the wire (the test client would strip the path part itself).
    hostile = ["../../etc/名字<script>.pdf", "C:\\Windows\\System32\\报告\x07\x1b.pdf", "长" * 300 + ".pdf"]
    if api:
        poster, url = api_client(world.liaisons[0]), "/api/checkins/"
    else:
        client.force_login(world.liaisons[0])
        poster, url = client, reverse("tasks:submit", args=[assignment.pk])
    response, _peak, _stream, _length = post_streamed(
        poster,
        url,
        [("assignment", assignment.pk), ("description", "说明")],
        [("files", name, f.PDF_BYTES, len(f.PDF_BYTES)) for name in hostile],
        tmp_path,
    )
    assert response.status_code in (201, 302), response.content[:300]
    names = list(Evidence.objects.order_by("pk").values_list("original_name", flat=True))
    assert names == ["名字_script_.pdf", "报告.pdf", "长" * 196 + ".pdf"]
    stored = set(media_files())
    assert len(stored) == 3
    assert all(re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", name) for name in stored), stored


# --- review input -----------------------------------------------------------------------


@pytest.fixture
def pending_city(world, assignment):
    return drive(world, assignment, State.PENDING_CITY_REVIEW)


def score_web(client, world, checkin, **data):
    client.force_login(world.city_user)
    return client.post(reverse("tasks:score", args=[checkin.pk]), data)


def score_api(client, world, checkin, **data):
    return api_client(world.city_user).post(f"/api/checkins/{checkin.pk}/score/", data, format="json")


@pytest.mark.parametrize("door", [score_web, score_api], ids=["web", "api"])
@pytest.mark.parametrize(
    "points",
    ["-1", "-0.01", "3.456", "0.001", "10.01", "11", "1e3", "NaN", "Infinity", "abc", ""],
)
def test_bad_points_are_refused_and_change_nothing(client, world, pending_city, door, points):
    before = database_and_media()
    response = door(client, world, pending_city, points=points, comment="")
    assert response.status_code == 400, response.content[:300]
    assert CHINESE.search(refused_text(response))
    assert database_and_media() == before


@pytest.mark.parametrize("door", [score_web, score_api], ids=["web", "api"])
def test_a_10000_character_comment_is_refused(client, world, pending_city, door):
    before = database_and_media()
    response = door(client, world, pending_city, points="8", comment="评" * 10_000)
    assert response.status_code == 400
    assert CHINESE.search(refused_text(response))
    assert database_and_media() == before


@pytest.mark.parametrize("door", [score_web, score_api], ids=["web", "api"])
def test_points_at_the_edges_are_accepted(client, world, assignment_of, door):
    # Three values for the four enterprises of the world: the last one is left alone.
    values = zip(world.enterprises, ["0", "10", "9.99"], ["0.00", "10.00", "9.99"], strict=False)
    for enterprise, points, stored in values:
        checkin = drive(world, assignment_of(enterprise), State.PENDING_CITY_REVIEW)
        response = door(client, world, checkin, points=points, comment="")
        assert response.status_code in (200, 302), response.content[:300]
        assert str(CheckIn.objects.get(pk=checkin.pk).points) == stored


@pytest.mark.parametrize(
    "door,url_of",
    [
        (lambda c, w: (c.force_login(w.county_users[0]), c)[1], lambda pk: reverse("tasks:return_checkin", args=[pk])),
        (lambda c, w: api_client(w.county_users[0]), lambda pk: f"/api/checkins/{pk}/return/"),
    ],
    ids=["web", "api"],
)
def test_a_10000_character_return_reason_is_refused(client, world, assignment, door, url_of):
    checkin = drive(world, assignment, State.PENDING_COUNTY_REVIEW)
    before = database_and_media()
    poster = door(client, world)
    response = poster.post(url_of(checkin.pk), {"reason": "缺" * 10_000})
    assert response.status_code == 400
    assert CHINESE.search(refused_text(response))
    assert database_and_media() == before
