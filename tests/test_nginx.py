"""deploy/nginx.conf itself, run by a real nginx in front of the portal.

docker-compose.yml cannot be started on this machine (no Docker engine), so this runs the
nginx server block that compose mounts, unchanged except for the addresses: the listening
port, the upstream (pytest-django's live server instead of `web:8000`) and the two folders
(the project's static/ for /srv/static/, the test MEDIA_ROOT for /data/media/). The portal runs
with EVIDENCE_X_ACCEL_PREFIX=/protected-media/ as in compose, so nginx, not Django, sends the
evidence bytes after Django checked the user.

nginx comes from Debian's package (.ci/run installs it); without it the tests fail in CI and
are skipped on a developer machine.
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from tasks import services

from . import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVER_BLOCK = ROOT / "deploy" / "nginx.conf"


def _nginx_or_skip():
    if Path(NGINX).exists():
        return NGINX
    message = "nginx not found: install Debian's nginx package (.ci/run does)."
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _substitute(text, old, new):
    assert old in text, f"deploy/nginx.conf no longer contains {old!r}; update this test"
    return text.replace(old, new)


@pytest.fixture
def nginx(live_server_media_url, live_server, settings, tmp_path):
    """deploy/nginx.conf served by a real nginx on a free port, in front of the live server."""
    binary = _nginx_or_skip()
    settings.EVIDENCE_X_ACCEL_PREFIX = "/protected-media/"
    port = _free_port()
    media_root = Path(settings.MEDIA_ROOT)  # the suite's temporary one (tests/conftest.py)
    media_root.mkdir(parents=True, exist_ok=True)
    server = SERVER_BLOCK.read_text()
    server = _substitute(server, "listen 80;", f"listen 127.0.0.1:{port};")
    server = _substitute(server, "proxy_pass http://web:8000;", f"proxy_pass {live_server.url};")
    server = _substitute(server, "alias /srv/static/;", f"alias {ROOT / 'static'}/;")
    server = _substitute(server, "alias /data/media/;", f"alias {media_root}/;")
    run = tmp_path / "nginx"
    run.mkdir()
    (run / "nginx.conf").write_text(
        "daemon off;\n"
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {run}/nginx.pid;\nerror_log {run}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  access_log off;\n"
        + "".join(f"  {kind}_temp_path {run}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + server
        + "\n}\n"
    )
    process = subprocess.Popen([binary, "-p", str(run), "-c", str(run / "nginx.conf")], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to check, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def fetch(url, session_key=None, method="GET"):
    """(status, headers, body) of one request; errors and redirects are answers too."""
    request = urllib.request.Request(url, method=method)
    if session_key:
        request.add_header("Cookie", f"{django_settings.SESSION_COOKIE_NAME}={session_key}")
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def session_of(client, user):
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def evidence(world, assignment_of):
    checkin = services.submit_checkin(
        world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload("安康杯 方案（终稿）.pdf")]
    )
    return checkin.evidence.get()


@pytest.mark.parametrize("path", ["/tasks/evidence/{pk}/", "/api/evidence/{pk}/download/"], ids=["web", "api"])
def test_nginx_sends_the_evidence_only_after_the_portal_checked_the_user(nginx, client, world, evidence, path):
    url = nginx + path.format(pk=evidence.pk)
    status, headers, body = fetch(url, session_of(client, world.liaisons[0]))
    assert status == 200
    with evidence.file.open("rb") as stored:
        assert body == stored.read() and len(body) > 0
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("安康杯 方案（终稿）.pdf")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "X-Accel-Redirect" not in headers  # the internal path never reaches the browser

    # Another enterprise's liaison, and nobody: the portal's answers, no file bytes.
    status, headers, body = fetch(url, session_of(client, world.liaisons[2]))
    assert status == 404 and b"%PDF" not in body
    status, headers, body = fetch(url)
    assert b"%PDF" not in body
    assert status == 401 if "/api/" in url else (status == 302 and "/accounts/login/" in headers["Location"])


def test_the_protected_folder_cannot_be_asked_for_directly(nginx, client, world, evidence):
    assert evidence.file.name.startswith("evidence/")
    for cookie in (None, session_of(client, world.liaisons[0])):
        status, _headers, body = fetch(f"{nginx}/protected-media/{evidence.file.name}", cookie)
        assert status == 404 and b"%PDF" not in body


def test_nginx_serves_static_files_itself_and_proxies_pages(nginx, client, world):
    status, headers, body = fetch(f"{nginx}/static/css/portal.css")
    assert status == 200 and body == (ROOT / "static" / "css" / "portal.css").read_bytes()
    assert sorted(headers.get_all("Cache-Control")) == ["max-age=604800", "public"]  # expires 7d
    status, _headers, body = fetch(f"{nginx}/tasks/", session_of(client, world.liaisons[0]))
    assert status == 200 and "任务".encode() in body
    status, _headers, body = fetch(f"{nginx}/nginx-health")
    assert (status, body) == (200, b"ok\n")


def test_a_body_over_nginx_limit_is_refused_before_it_reaches_the_portal(nginx):
    """client_max_body_size 210m: a declared 300 MB body gets 413 without a byte being sent."""
    port = int(nginx.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/checkins/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {300 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
