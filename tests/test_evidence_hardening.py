"""Evidence files are judged by their content, stopped at the limits while they stream in, kept
under generated names and only ever downloaded as attachments through the permission check.

Builders of real Office files (OOXML zips, OLE2 compound files) and of streamed multipart
bodies live here; tests/test_hostile_input.py uses them too.
"""

import io
import os
import re
import struct
import zipfile
from types import SimpleNamespace
from urllib.parse import quote

import olefile
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tasks import evidence, services
from tasks.evidence import clean_original_name, inspect_upload
from tasks.models import CheckIn, Evidence

from . import factories as f
from .helpers_domain import PNG_BYTES, media_files

# --- builders ---------------------------------------------------------------------------

OOXML_PARTS = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}


def ooxml_bytes(kind="docx", extra=(), content_types=True):
    """A minimal Office Open XML package of `kind`; `extra` adds (name, bytes) entries."""
    main_part, main_type = OOXML_PARTS[kind]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if content_types:
            archive.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                f'package/2006/content-types"><Override PartName="/{main_part}" ContentType="{main_type}"/></Types>',
            )
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(main_part, "<document>安康杯劳动竞赛方案</document>")
        for name, data in extra:
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb_docx(unpacked=50 * 1024 * 1024):
    """A .docx whose one extra part is `unpacked` bytes of zeros (50 MB compress to ~50 KB)."""
    return ooxml_bytes("docx", extra=[("word/media/image1.bin", bytes(unpacked))])


def encrypted_zip(data):
    """`data` (a zip) with every entry flagged as encrypted in the central directory."""
    data = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        data[at + 8] |= 0x01  # general purpose bit 0: encrypted
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


def ole_bytes(*streams):
    """A minimal OLE2 compound file (version 3) holding the named streams, 4 KiB each.

    Each stream is exactly the mini-stream cutoff (4096 bytes), so it lives in ordinary
    512-byte sectors and the file needs no mini FAT.
    """
    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    per_stream = 8  # sectors of 512 bytes
    directory_sectors = 1 + (len(streams) + 1) // 4
    first_data = 1 + directory_sectors
    fat = [fat_sector]
    fat += [1 + i + 1 if i + 1 < directory_sectors else end for i in range(directory_sectors)]
    for index in range(len(streams)):
        start = first_data + index * per_stream
        fat += [start + i + 1 for i in range(per_stream - 1)] + [end]
    assert len(fat) <= 128
    fat += [free] * (128 - len(fat))

    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<I", header, 0x4C, 0)
    for i in range(1, 109):
        struct.pack_into("<I", header, 0x4C + 4 * i, free)

    def entry(name, kind, child=no_stream, right=no_stream, start=end, size=0):
        raw = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\0\0" if name else b""
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 0x40, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 0x44, no_stream, right, child)
        struct.pack_into("<IQ", raw, 0x74, start, size)
        return bytes(raw)

    entries = [entry("Root Entry", 5, child=1 if streams else no_stream)]
    for index, name in enumerate(streams):
        right = index + 2 if index + 1 < len(streams) else no_stream
        entries.append(entry(name, 2, right=right, start=first_data + index * per_stream, size=4096))
    while len(entries) < directory_sectors * 4:
        entries.append(entry("", 0))
    body = struct.pack("<128I", *fat) + b"".join(entries)
    for index in range(len(streams)):
        body += bytes([index + 1]) * (per_stream * 512)
    return bytes(header) + body


def multipart_chunks(boundary, fields, files, chunk=64 * 1024):
    """(length, generator) of a multipart/form-data body; files are (field, name, head, size).

    Each file's bytes are `head` followed by zeros up to `size`, produced chunk by chunk, so
    a body of any size is never held in memory.
    """
    parts = []
    for name, value in fields:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                + str(value).encode()
                + b"\r\n",
                None,
            )
        )
    for field, filename, head, size in files:
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        parts.append((header, (head, size)))
    closing = f"--{boundary}--\r\n".encode()
    length = len(closing) + sum(len(h) + (0 if c is None else c[1] + 2) for h, c in parts)

    def generate():
        for header, content in parts:
            yield header
            if content is None:
                continue
            head, size = content
            yield head
            left = size - len(head)
            while left > 0:
                step = min(chunk, left)
                yield bytes(step)
                left -= step
            yield b"\r\n"
        yield closing

    return length, generate()


class GeneratorStream(io.RawIOBase):
    """A readable stream over a generator of byte chunks (a request body arriving slowly)."""

    def __init__(self, chunks, on_chunk=None):
        self.chunks = chunks
        self.on_chunk = on_chunk
        self.pending = b""
        self.consumed = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
            if self.on_chunk is not None:
                self.on_chunk()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.consumed += size
        return size


class ReadRecorder:
    """wsgi.input that remembers the largest piece the server read at once (its memory cost)."""

    def __init__(self, stream):
        self.stream = stream
        self.largest_read = 0

    def _seen(self, data):
        self.largest_read = max(self.largest_read, len(data))
        return data

    def read(self, *args):
        return self._seen(self.stream.read(*args))

    def readline(self, *args):
        return self._seen(self.stream.readline(*args))


def folder_bytes(folder):
    """Bytes of the files in `folder`, counting the temporary upload files this process holds
    open there without a name on disk (tasks.upload_handlers.SpooledUploadedFile)."""
    named = sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
    anonymous = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if os.path.dirname(target) == os.path.realpath(folder) and target.endswith("(deleted)"):
                anonymous += os.fstat(int(fd)).st_size
        except OSError:
            pass
    return named + anonymous


def post_streamed(client, url, fields, files, temp_dir, **extra):
    """POST a multipart body produced chunk by chunk; returns (response, peak bytes in temp_dir,
    the stream, the body's length); the stream's `recorder.largest_read` is the largest read.

    While the body streams in, the size of everything in temp_dir (FILE_UPLOAD_TEMP_DIR) is
    sampled at every chunk.
    """
    boundary = "----chanjgai-test-boundary"
    length, chunks = multipart_chunks(boundary, fields, files)
    peak = [0]

    def sample():
        peak[0] = max(peak[0], folder_bytes(temp_dir))

    raw = GeneratorStream(chunks, on_chunk=sample)
    raw.recorder = ReadRecorder(io.BufferedReader(raw, 64 * 1024))
    content_type = f"multipart/form-data; boundary={boundary}"
    environ = {
        "wsgi.input": raw.recorder,
        "CONTENT_LENGTH": str(length),
        "CONTENT_TYPE": content_type,
        **extra,
    }
    response = client.generic("POST", url, content_type=content_type, **environ)
    return response, peak[0], raw, length


def shown_error(response):
    """The error the user reads: the API's `detail`, or the error list above the web form."""
    if response["Content-Type"].startswith("application/json"):
        return response.json()["detail"]
    alert = re.search(r'<div class="alert alert--error" role="alert">(.*?)</div>', response.content.decode(), re.S)
    assert alert, "the page shows no error"
    return re.sub(r"<[^>]+>", " ", alert.group(1))


def rows():
    return CheckIn.objects.count(), Evidence.objects.count()


# --- types by content ------------------------------------------------------------------


def upload(name, content):
    # The browser's type is deliberately wrong: only the bytes count.
    return SimpleUploadedFile(name, content, content_type="text/html")


@pytest.mark.parametrize(
    "name,content,content_type",
    [
        ("方案.pdf", f.PDF_BYTES, "application/pdf"),
        ("现场.JPG", b"\xff\xd8\xff\xe0" + bytes(40), "image/jpeg"),
        ("现场.jpeg", b"\xff\xd8\xff\xe1" + bytes(40), "image/jpeg"),
        ("照片.png", PNG_BYTES, "image/png"),
        ("方案.docx", ooxml_bytes("docx"), evidence.DOCX),
        ("台账.xlsx", ooxml_bytes("xlsx"), evidence.XLSX),
        ("汇报.pptx", ooxml_bytes("pptx"), evidence.PPTX),
        ("旧方案.doc", ole_bytes("WordDocument"), evidence.DOC),
        ("旧台账.xls", ole_bytes("Workbook"), evidence.XLS),
        ("Excel95台账.xls", ole_bytes("Book"), evidence.XLS),
        ("带摘要.xls", ole_bytes("\x05SummaryInformation", "Workbook"), evidence.XLS),
    ],
)
def test_files_are_accepted_by_content_and_get_the_detected_type(name, content, content_type):
    assert inspect_upload(upload(name, content))[1] == content_type


def test_the_ole_builder_writes_files_olefile_reads():
    ole = olefile.OleFileIO(ole_bytes("WordDocument", "Data"))
    assert ole.exists("WordDocument") and ole.exists("Data") and not ole.exists("Workbook")
    assert len(ole.openstream("Data").read()) == 4096


MISMATCH = "does not match its type"
DAMAGED = "damaged or protected by a password"
BOMB = "far too large once unpacked"
MACROS = "contains macros"


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("伪装.pdf", PNG_BYTES, MISMATCH),
        ("伪装.png", f.PDF_BYTES, MISMATCH),
        ("程序.docx", b"MZ\x90\x00\x03" + bytes(200), MISMATCH),
        ("程序.doc", b"MZ\x90\x00\x03" + bytes(200), MISMATCH),
        ("页面.pdf", b"<html><script>alert(1)</script></html>", MISMATCH),
        ("图标.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', MISMATCH),
        ("压缩包.docx", b"PK\x03\x04" + bytes(100), DAMAGED),  # zip magic, no archive behind it
        ("普通压缩包.docx", ooxml_bytes("docx", content_types=False), MISMATCH),
        ("表格当文档.docx", ooxml_bytes("xlsx"), MISMATCH),
        ("文档当表格.xlsx", ooxml_bytes("docx"), MISMATCH),
        ("文档当演示.pptx", ooxml_bytes("docx"), MISMATCH),
        ("新格式当旧格式.doc", ooxml_bytes("docx"), MISMATCH),
        ("旧格式当新格式.docx", ole_bytes("WordDocument"), MISMATCH),
        ("文档当表格.xls", ole_bytes("WordDocument"), MISMATCH),
        ("表格当文档.doc", ole_bytes("Workbook"), MISMATCH),
        ("空容器.doc", ole_bytes(), MISMATCH),
        ("坏容器.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), DAMAGED),
        ("加密.docx", ole_bytes("EncryptionInfo", "EncryptedPackage"), DAMAGED),
        ("加密条目.docx", encrypted_zip(ooxml_bytes("docx")), DAMAGED),
        ("宏.docx", ooxml_bytes("docx", extra=[("word/vbaProject.bin", b"macro")]), MACROS),
        ("炸弹.docx", zip_bomb_docx(), BOMB),
    ],
)
def test_forged_damaged_and_hostile_files_are_refused_with_a_message_naming_them(name, content, expected):
    with pytest.raises(ValidationError):
        inspect_upload(upload(name, content))
    message = _english(name, content)  # the msgid; the zh_Hans catalog carries its translation
    assert expected in message
    assert clean_original_name(name) in message


def _english(name, content):
    from django.utils import translation

    with translation.override("en"):
        try:
            inspect_upload(upload(name, content))
        except ValidationError as error:
            return error.messages[0]
    return ""


def test_zip_bomb_docx_compresses_small_and_is_refused_without_unpacking():
    bomb = zip_bomb_docx()
    assert len(bomb) < 200 * 1024  # 50 MB of zeros in well under 200 KB
    with pytest.raises(ValidationError):
        inspect_upload(upload("炸弹.docx", bomb))


def test_a_zip_with_too_many_entries_is_refused():
    many = [(f"word/media/{i}.xml", b"") for i in range(evidence.ZIP_MAX_ENTRIES)]
    assert _english("很多条目.docx", ooxml_bytes("docx", extra=many)).endswith("unpacked.")
    few = [(f"word/media/{i}.xml", b"") for i in range(evidence.ZIP_MAX_ENTRIES - 3)]
    assert inspect_upload(upload("条目正好.docx", ooxml_bytes("docx", extra=few)))[1] == evidence.DOCX


def test_a_zip_whose_parts_unpack_past_the_total_limit_is_refused(monkeypatch):
    monkeypatch.setattr(evidence, "ZIP_MAX_UNPACKED_BYTES", 5 * 1024 * 1024)
    # Entries of exactly 1 MiB are not checked for their ratio: only the total refuses these.
    parts = [(f"word/media/{i}.bin", bytes(1024 * 1024)) for i in range(4)]
    assert inspect_upload(upload("四兆.docx", ooxml_bytes("docx", extra=parts)))[1] == evidence.DOCX
    parts.append(("word/media/4.bin", bytes(1024 * 1024)))
    assert BOMB in _english("五兆多.docx", ooxml_bytes("docx", extra=parts))


def test_highly_compressible_small_parts_are_fine_large_ones_are_not():
    small = ooxml_bytes("docx", extra=[("word/media/zeros.bin", bytes(1024 * 1024))])  # 1 MiB, ratio ~1000
    assert inspect_upload(upload("小.docx", small))[1] == evidence.DOCX
    large = ooxml_bytes("docx", extra=[("word/media/zeros.bin", bytes(1024 * 1024 + 1))])
    assert BOMB in _english("大.docx", large)


def test_refused_content_is_not_stored(world, assignment_of):
    assignment = assignment_of(world.enterprises[0])
    with pytest.raises(ValidationError):
        services.submit_checkin(
            world.liaisons[0], assignment, "说明", [f.pdf_upload("好.pdf"), upload("炸弹.docx", zip_bomb_docx())]
        )
    assert rows() == (0, 0)
    assert media_files() == set()


def test_the_stored_type_is_the_detected_one_not_the_browsers(world, assignment_of):
    checkin = services.submit_checkin(
        world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [upload("台账.xlsx", ooxml_bytes("xlsx"))]
    )
    stored = checkin.evidence.get()
    assert stored.content_type == evidence.XLSX
    assert stored.file.name.startswith("evidence/") and stored.file.name.endswith(".xlsx")


# --- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\System32\\drivers\\etc\\hosts", "hosts"),
        ("C:\\Users\\张伟\\Desktop\\安康杯方案.pdf", "安康杯方案.pdf"),
        ("\\\\server\\share\\总结.docx", "总结.docx"),
        ("名字<script>.pdf", "名字_script_.pdf"),
        ('a"b|c?d*e:f.pdf', "a_b_c_d_e_f.pdf"),
        ("报告\r\n\t\x00\x1b[31m.pdf", "报告[31m.pdf"),
        ("\u202efdp.exe", "fdp.exe"),
        ("e\u0301te\u0301.pdf", "été.pdf"),  # decomposed (macOS) names are composed
        ("evil.pdf.", "evil.pdf"),
        ("   ", "file"),
    ],
)
def test_original_names_are_sanitised(raw, clean):
    assert clean_original_name(raw) == clean


def test_long_names_are_shortened_but_keep_their_extension():
    cleaned = clean_original_name("劳" * 300 + ".pdf")
    assert len(cleaned) == evidence.MAX_NAME_LENGTH
    assert cleaned.endswith("劳.pdf")
    assert inspect_upload(upload("劳" * 300 + ".pdf", f.PDF_BYTES))[0] == cleaned
    # A long "extension" is no extension: the name is cut and then refused as a type.
    assert len(clean_original_name("a." + "b" * 300)) == evidence.MAX_NAME_LENGTH


def test_hostile_names_are_kept_for_display_only_and_files_get_generated_names(world, assignment_of, settings):
    checkin = services.submit_checkin(
        world.liaisons[0],
        assignment_of(world.enterprises[0]),
        "说明",
        [upload("../../etc/名字<script>.pdf", f.PDF_BYTES), upload("C:\\temp\\" + "长" * 300 + ".png", PNG_BYTES)],
    )
    first, second = checkin.evidence.order_by("pk")
    assert first.original_name == "名字_script_.pdf"
    assert len(second.original_name) == 200 and second.original_name.endswith(".png")
    for stored in (first, second):
        assert "/" not in stored.original_name and "\\" not in stored.original_name
        path = os.path.realpath(stored.file.path)
        assert path.startswith(os.path.realpath(settings.MEDIA_ROOT / "evidence") + os.sep)
        assert os.path.basename(path)[:32].isalnum() and len(os.path.basename(path).split(".")[0]) == 32
    assert not str(settings.MEDIA_ROOT).startswith(str(settings.STATIC_ROOT))


# --- downloads --------------------------------------------------------------------------


@pytest.fixture
def stored_pdf(world, assignment_of):
    checkin = services.submit_checkin(
        world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload("安康杯 方案（终稿）.pdf")]
    )
    return checkin.evidence.get()


DOWNLOAD_URLS = [
    lambda pk: reverse("tasks:evidence_download", args=[pk]),
    lambda pk: f"/api/evidence/{pk}/download/",
]


@pytest.mark.parametrize("url", DOWNLOAD_URLS, ids=["web", "api"])
def test_downloads_are_attachments_with_rfc5987_names_nosniff_and_the_stored_type(client, world, stored_pdf, url):
    client.force_login(world.liaisons[0])
    response = client.get(url(stored_pdf.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("安康杯 方案（终稿）.pdf")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == f.PDF_BYTES
    assert "X-Accel-Redirect" not in response


@pytest.mark.parametrize("url", DOWNLOAD_URLS, ids=["web", "api"])
@pytest.mark.parametrize("forged_type", ["text/html", "image/svg+xml", "application/xhtml+xml"])
def test_a_forged_html_or_svg_row_is_never_served_inline(client, world, stored_pdf, url, forged_type):
    """Refused on upload anyway; a row forged in the database still goes out as opaque bytes."""
    stored_pdf.file.save("x.html", io.BytesIO(b"<script>alert(document.cookie)</script>"), save=False)
    Evidence.objects.filter(pk=stored_pdf.pk).update(
        file=stored_pdf.file.name, content_type=forged_type, original_name="页面.html"
    )
    client.force_login(world.liaisons[0])
    response = client.get(url(stored_pdf.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("url", DOWNLOAD_URLS, ids=["web", "api"])
def test_x_accel_redirect_hands_the_file_to_nginx_after_the_permission_check(client, world, stored_pdf, settings, url):
    settings.EVIDENCE_X_ACCEL_PREFIX = "/protected-media/"
    client.force_login(world.liaisons[0])
    response = client.get(url(stored_pdf.pk))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-media/" + stored_pdf.file.name
    assert stored_pdf.file.name.startswith("evidence/")
    assert response.content == b""
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("安康杯 方案（终稿）.pdf")
    assert response["X-Content-Type-Options"] == "nosniff"

    # Another enterprise's liaison: the same 404 as without nginx, and no path handed out.
    client.force_login(world.liaisons[2])
    refused = client.get(url(stored_pdf.pk))
    assert refused.status_code == 404
    assert "X-Accel-Redirect" not in refused


def test_x_accel_is_only_for_local_disk_and_safe_paths(settings):
    settings.EVIDENCE_X_ACCEL_PREFIX = "protected-media"
    local = SimpleNamespace(storage=default_storage, name="evidence/2026/11/" + "a" * 32 + ".pdf")
    assert evidence.x_accel_path(local) == "/protected-media/evidence/2026/11/" + "a" * 32 + ".pdf"
    local.name = "../../etc/passwd"
    assert evidence.x_accel_path(local) is None
    assert evidence.x_accel_path(SimpleNamespace(storage=InMemoryStorage(), name="evidence/a.pdf")) is None
    settings.EVIDENCE_X_ACCEL_PREFIX = ""
    local.name = "evidence/a.pdf"
    assert evidence.x_accel_path(local) is None


# --- limits while streaming -------------------------------------------------------------


@pytest.fixture
def small_limits(settings, tmp_path):
    """1 MiB per file, 2 files, and Django's temporary upload files in a folder we can watch."""
    settings.EVIDENCE_MAX_FILE_SIZE = 1024 * 1024
    settings.EVIDENCE_MAX_FILES = 2
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR)
    return settings


def _web(client, world, assignment):
    client.force_login(world.liaisons[0])
    return client, reverse("tasks:submit", args=[assignment.pk])


def _api(client, world, assignment):
    from .test_api import api_client

    return api_client(world.liaisons[0]), "/api/checkins/"


@pytest.mark.parametrize("channel", [_web, _api], ids=["web", "api"])
def test_an_oversized_file_is_stopped_while_it_streams(client, world, assignment_of, small_limits, channel):
    assignment = assignment_of(world.enterprises[0])
    poster, url = channel(client, world, assignment)
    size = 8 * 1024 * 1024  # within the declared-length allowance, so the per-file count stops it
    response, peak, stream, length = post_streamed(
        poster,
        url,
        [("assignment", assignment.pk), ("description", "说明")],
        [("files", "大文件.pdf", b"%PDF-1.4\n", size)],
        small_limits.FILE_UPLOAD_TEMP_DIR,
    )
    assert response.status_code == 413
    text = shown_error(response)
    assert "大文件.pdf" in text and "1.0" in text
    assert peak <= small_limits.EVIDENCE_MAX_FILE_SIZE + 64 * 1024  # never more than the limit on disk
    assert stream.consumed == length  # the rest was read and dropped, so the client gets the answer
    # ... in bounded pieces: Django's own draining reads by lines, and a body of zeros is one line.
    assert stream.recorder.largest_read <= 1024 * 1024
    assert os.listdir(small_limits.FILE_UPLOAD_TEMP_DIR) == []
    assert rows() == (0, 0) and media_files() == set()


@pytest.mark.parametrize("channel", [_web, _api], ids=["web", "api"])
def test_a_body_declared_too_large_stores_no_byte(client, world, assignment_of, small_limits, channel):
    assignment = assignment_of(world.enterprises[0])
    poster, url = channel(client, world, assignment)
    response, peak, stream, length = post_streamed(
        poster,
        url,
        [("assignment", assignment.pk), ("description", "说明")],
        [("files", "方案.pdf", b"%PDF-1.4\n", 40 * 1024 * 1024)],
        small_limits.FILE_UPLOAD_TEMP_DIR,
    )
    assert length > 40 * 1024 * 1024
    assert response.status_code == 413
    assert peak == 0
    assert stream.consumed == length and stream.recorder.largest_read <= 1024 * 1024
    assert os.listdir(small_limits.FILE_UPLOAD_TEMP_DIR) == []
    assert rows() == (0, 0) and media_files() == set()


@pytest.mark.parametrize("channel", [_web, _api], ids=["web", "api"])
def test_more_files_than_allowed_stop_the_upload_with_a_message(client, world, assignment_of, small_limits, channel):
    assignment = assignment_of(world.enterprises[0])
    poster, url = channel(client, world, assignment)
    response, _peak, _stream, _length = post_streamed(
        poster,
        url,
        [("assignment", assignment.pk), ("description", "说明")],
        [("files", f"{i}.pdf", b"%PDF-1.4\n", 1000) for i in range(5)],
        small_limits.FILE_UPLOAD_TEMP_DIR,
    )
    assert response.status_code == 400
    assert re.search(r"\b2\b", shown_error(response))  # "at most 2 files", not a generic 400 page
    assert rows() == (0, 0) and media_files() == set()


@pytest.mark.parametrize("channel", [_web, _api], ids=["web", "api"])
def test_files_at_the_limits_stream_through_and_are_stored(client, world, assignment_of, small_limits, channel):
    assignment = assignment_of(world.enterprises[0])
    poster, url = channel(client, world, assignment)
    size = small_limits.EVIDENCE_MAX_FILE_SIZE
    response, peak, _stream, _length = post_streamed(
        poster,
        url,
        [("assignment", assignment.pk), ("description", "说明")],
        [("files", "甲.pdf", b"%PDF-1.4\n", size), ("files", "乙.pdf", b"%PDF-1.4\n", size)],
        small_limits.FILE_UPLOAD_TEMP_DIR,
    )
    assert response.status_code in (201, 302), response.content[:500]
    assert rows() == (1, 2)
    assert sorted(Evidence.objects.values_list("size", flat=True)) == [size, size]
    assert peak >= size  # the files did go through the temporary-file handler
    assert os.listdir(small_limits.FILE_UPLOAD_TEMP_DIR) == []


def test_the_settings_install_the_handler_first_and_match_the_file_limit():
    from django.conf import settings

    assert settings.FILE_UPLOAD_HANDLERS[0] == "tasks.upload_handlers.EvidenceLimitUploadHandler"
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == settings.EVIDENCE_MAX_FILES + 1


# --- every refusal reads in Chinese -------------------------------------------------------


def _stopped_upload_message(reason):
    from django.core.files.uploadhandler import StopUpload
    from django.http import HttpRequest

    from tasks.upload_handlers import EvidenceLimitUploadHandler, upload_refusal

    request = HttpRequest()
    handler = EvidenceLimitUploadHandler(request)
    handler.handle_raw_input(None, {}, 10**12 if reason == "declared" else 100, "b")
    try:
        handler.new_file("files", "Report.pdf", "application/pdf", None)
        if reason == "count":
            for _ in range(handler.max_files):
                handler.new_file("files", "Report.pdf", "application/pdf", None)
        handler.receive_data_chunk(bytes(handler.max_file_bytes + 1), 0)
    except StopUpload:
        return upload_refusal(request).message
    raise AssertionError("the upload was not stopped")


@pytest.mark.parametrize(
    "refusal",
    [
        lambda: inspect_upload(upload("Report.exe", b"MZ")),
        lambda: inspect_upload(upload("Report.pdf", b"")),
        lambda: inspect_upload(upload("Report.pdf", PNG_BYTES)),
        lambda: inspect_upload(upload("Report.docx", b"PK\x03\x04" + bytes(10))),
        lambda: inspect_upload(upload("Report.docx", zip_bomb_docx(2 * 1024 * 1024))),
        lambda: inspect_upload(upload("Report.docx", ooxml_bytes(extra=[("word/vbaProject.bin", b"")]))),
        lambda: evidence.validate_upload_count([]),
        lambda: _raise(_stopped_upload_message("file")),
        lambda: _raise(_stopped_upload_message("count")),
        lambda: _raise(_stopped_upload_message("declared")),
    ],
    ids=["type", "empty", "mismatch", "damaged", "bomb", "macros", "none", "stopped_file", "stopped_count", "stopped_total"],
)
def test_every_file_refusal_reads_in_chinese(refusal, settings):
    """With an ASCII file name, any Chinese in the message comes from the zh_Hans catalog."""
    assert settings.LANGUAGE_CODE == "zh-hans"
    with pytest.raises(ValidationError) as refused:
        refusal()
    message = re.sub(r"“[^”]*”", "", refused.value.messages[0]).replace(evidence.ALLOWED_LABEL, "")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    assert not re.search(r"[A-Za-z]{3,}", message), message  # no English sentence left over


def _raise(message):
    raise ValidationError(message)


def test_a_workbook_written_by_a_real_office_library_is_accepted():
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "安康杯劳动竞赛获奖名单"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert inspect_upload(upload("获奖名单.xlsx", buffer.getvalue()))[1] == evidence.XLSX
    with pytest.raises(ValidationError):
        inspect_upload(upload("获奖名单.docx", buffer.getvalue()))


@pytest.mark.parametrize(
    "who, url, field, template_marker",
    [
        ("city_user", lambda: reverse("notices:notice_create"), "files", "notices/notice_form.html"),
        ("liaison", lambda: reverse("notices:need_create"), "attachment", "notices/need_form.html"),
        ("city_user", lambda: reverse("spreadsheets:upload", args=["enterprises"]), "file", "spreadsheets/index.html"),
    ],
    ids=["notice", "need", "spreadsheet"],
)
def test_every_upload_form_explains_a_stopped_upload(client, world, small_limits, who, url, field, template_marker):
    """Notices, needs and spreadsheet imports share the streaming limit and say why in Chinese."""
    from notices.models import Need, Notice

    client.force_login(world.city_user if who == "city_user" else world.liaisons[0])
    big = SimpleUploadedFile("大文件.pdf", b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024), content_type="application/pdf")
    data = {"title": "通知", "body": "正文", "audience": "city", "category": "other", "text": "需求", field: big}
    response = client.post(url(), data)
    assert response.status_code == 413
    assert template_marker in [t.name for t in response.templates]
    assert "上传已中止" in response.content.decode() and "大文件.pdf" in response.content.decode()
    assert (Notice.objects.count(), Need.objects.count()) == (0, 0)
    assert os.listdir(small_limits.FILE_UPLOAD_TEMP_DIR) == []
