"""gunicorn, as gunicorn.conf.py runs it, survives clients that stall (issue 13, point 15).

A county office may run the portal without nginx in front, so gunicorn itself meets every
client. These tests start a real gunicorn with the project's config (its defaults, against the
test database, two workers as in bench/load.py), open connections that send their headers and
a Content-Length, then stall the body, and check that

- everyone else is still served while they hang (a login through the browser form), and
- the server drops the stalled ones after GUNICORN_CLIENT_TIMEOUT (set small here), answering
  each with a client error (a 4xx, never a 500) if it answers at all.

The waits are generous; they bound a hang, they do not measure speed (bench/faults.py
slow-clients does that).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from django.db import connection

pytestmark = [pytest.mark.gunicorn, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
# Ports of this test: a free one in this range (the range the test has to itself).
PORTS = range(18600, 18700)
STALLED = 16
# Long enough for a loaded CI machine to answer a login; a frozen server never does.
ANSWER_WITHIN = 45


def _free_port():
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS}")


def _test_database_url():
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn runs in its own processes: it needs the PostgreSQL test database (DATABASE_URL).")
    user = settings["USER"] or ""
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{user}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def gunicorn_server(tmp_path):
    """Start gunicorn with gunicorn.conf.py and the given environment; returns its URL."""
    started = []

    def start(**env_overrides):
        port = _free_port()
        env = dict(
            os.environ,
            DATABASE_URL=_test_database_url(),
            # Plain HTTP on 127.0.0.1, as the suite runs (make test).
            DEBUG="1",
            SECRET_KEY=os.environ.get("SECRET_KEY") or "test-only-secret-key",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            MEDIA_ROOT=str(tmp_path / "media"),
            PYTHONUNBUFFERED="1",
        )
        env.update({k: str(v) for k, v in env_overrides.items()})
        log = open(tmp_path / f"gunicorn-{port}.log", "wb")
        proc = subprocess.Popen(
            [str(GUNICORN), "chanjgai_portal.wsgi", "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {(tmp_path / f'gunicorn-{port}.log').read_text()[-3000:]}")
            try:
                if requests.get(url + "/accounts/login/", timeout=5).status_code == 200:
                    return url
            except requests.RequestException:
                time.sleep(0.2)
        pytest.fail("gunicorn did not answer within 60 s")

    yield start
    for proc, log in started:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        log.close()
    # The workers' connections to the test database are gone with them.


# Any well-formed CSRF cookie: with one, the CSRF check reads the body for the form's token
# (without one it refuses the POST before reading anything).
CSRF_COOKIE = b"csrftoken=" + b"a" * 32
# What a stalled client sends: a POST's headers and the first bytes of a 100,000-byte body.
LOGIN_FORM = (b"/accounts/login/", b"application/x-www-form-urlencoded", b"username=")
API_TOKEN = (b"/api/auth/token/", b"application/json", b'{"username": ')


def _stall(url, count, request=LOGIN_FORM):
    """`count` connections that send `request`'s headers (with a CSRF cookie, so that the
    portal reads the body) and the start of its body, then nothing."""
    address = urlparse(url)
    path, content_type, start = request
    sockets = []
    for _ in range(count):
        s = socket.create_connection((address.hostname, address.port), timeout=10)
        s.sendall(
            b"POST " + path + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\n"
            b"Content-Type: " + content_type + b"\r\n"
            b"Cookie: " + CSRF_COOKIE + b"\r\n"
            # Under the API's 64 KB limit for requests without credentials (api.middleware),
            # so that the portal waits for the body rather than refusing it at once (413).
            b"Content-Length: 60000\r\n\r\n" + start
        )
        sockets.append(s)
    return sockets


def _log_in(url, user):
    """The browser's login (GET the form for its CSRF cookie, POST it): the login's response."""
    with requests.Session() as browser:
        browser.get(url + "/accounts/login/", timeout=ANSWER_WITHIN).raise_for_status()
        return browser.post(
            url + "/accounts/login/",
            data={
                "username": user.username,
                "password": "demo12345",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": url + "/accounts/login/"},
            allow_redirects=False,
            timeout=ANSWER_WITHIN,
        )


def _read_until_closed(s, within):
    """Everything the server sends on `s` until it closes the connection."""
    s.settimeout(within)
    received = b""
    while chunk := s.recv(65536):
        received += chunk
    return received


def test_stalled_uploads_do_not_keep_other_users_from_logging_in(gunicorn_server, world):
    # A client timeout longer than the test: the stalled connections stay open throughout.
    url = gunicorn_server(GUNICORN_CLIENT_TIMEOUT=600)
    stalled = _stall(url, STALLED)
    try:
        time.sleep(1)  # let the workers pick the stalled connections up first
        try:
            response = _log_in(url, world.city_user)
        except requests.Timeout:
            pytest.fail(f"{STALLED} stalled connections froze gunicorn: no answer to a login in {ANSWER_WITHIN} s")
        assert response.status_code == 302
        assert "/accounts/login/" not in response.headers["Location"]
        # ... while every stalled connection is still open and unanswered.
        for s in stalled:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
    finally:
        for s in stalled:
            s.close()


def test_a_stalled_upload_is_dropped_after_the_client_timeout(gunicorn_server, tmp_path):
    url = gunicorn_server(GUNICORN_CLIENT_TIMEOUT=2)
    # A browser's kept-alive connection, idle for longer than the client timeout meanwhile.
    browser = requests.Session()
    assert browser.get(url + "/accounts/login/", timeout=ANSWER_WITHIN).status_code == 200
    forms = _stall(url, STALLED // 2)
    api = _stall(url, STALLED // 2, API_TOKEN)
    try:
        answers = {}
        for s in forms + api:
            try:
                answers[s] = _read_until_closed(s, within=ANSWER_WITHIN)
            except TimeoutError:
                pytest.fail(f"a stalled connection was still open after {ANSWER_WITHIN} s")
        for s, answer in answers.items():
            if not answer:
                continue  # dropped without an answer: fine
            # If the server answers before it closes, it is with a client error; the API's in
            # JSON with a Chinese detail.
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            assert 400 <= status < 500, answer[:300]
            if s in api:
                assert json.loads(body) == {"detail": "请求内容未完整送达，请重新发送。"}
        # ... and the server still serves, the idle browser too.
        assert browser.get(url + "/accounts/login/", timeout=ANSWER_WITHIN).status_code == 200
        # Dropping a stalled client, or an idle kept-alive connection, is routine: no error
        # (traceback) in the log.
        (log,) = tmp_path.glob("gunicorn-*.log")
        assert "[ERROR]" not in log.read_text(errors="replace")
    finally:
        browser.close()
        for s in forms + api:
            s.close()
