"""The API's body limits hold before anything reads the body (issue 13, point 8).

A 60 MB JSON or form body to /api/auth/token/ was read whole without logging in. Now an
API request over its limit by Content-Length is answered 413 (JSON, Chinese detail) and
its body is never read: the bodies here are streams that fail the test if read past the
limit. Requests without credentials get 64 KB; authenticated ones the site's 10 MB (and
evidence uploads the site's own streaming limits, tests/test_evidence_hardening.py).
"""

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client

from . import factories as f
from .test_api import api_client

CHINESE = re.compile(r"[\u4e00-\u9fff]")
MB = 1024 * 1024


class UnreadableBody:
    """A request body of `length` bytes that must not be read past `allowed` bytes."""

    def __init__(self, length, allowed=0, chunk=b"a"):
        self.length = length
        self.allowed = allowed
        self.chunk = chunk
        self.read_bytes = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.length - self.read_bytes
        size = min(size, self.length - self.read_bytes)
        if self.read_bytes + size > self.allowed:
            raise AssertionError(f"the body was read past {self.allowed} bytes")
        self.read_bytes += size
        return self.chunk[:1] * size

    def readline(self, size=-1):
        return self.read(size)


def post_body(client, path, length, content_type, allowed=0, **extra):
    body = UnreadableBody(length, allowed)
    response = client.generic(
        "POST", path, b"", content_type=content_type, CONTENT_LENGTH=str(length), **{"wsgi.input": body}, **extra
    )
    return response, body


def assert_413(response):
    assert response.status_code == 413, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert CHINESE.search(response.json()["detail"]), response.json()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_60_mb_body_to_the_token_endpoint_is_413_unread(db, content_type):
    response, body = post_body(Client(raise_request_exception=False), "/api/auth/token/", 60 * MB, content_type)
    assert_413(response)
    assert body.read_bytes == 0
    assert not AccessAttempt.objects.exists()


def test_an_unauthenticated_body_over_64_kb_is_413_anywhere_under_api(db):
    response, body = post_body(Client(raise_request_exception=False), "/api/checkins/", 64 * 1024 + 1, "application/json")
    assert_413(response)
    assert body.read_bytes == 0


def test_credentials_do_not_raise_the_token_endpoint_s_limit(world):
    """The token endpoint authenticates nobody: a token header must not buy a larger body."""
    client = api_client(world.city_user)
    response, body = post_body(client, "/api/auth/token/", 1 * MB, "application/json")
    assert_413(response)
    assert body.read_bytes == 0


def test_an_authenticated_json_body_over_10_mb_is_413_unread(world):
    client = api_client(world.county_users[0])
    response, body = post_body(client, "/api/checkins/1/approve/", 10 * MB + 1, "application/json")
    assert_413(response)
    assert body.read_bytes == 0


def test_an_authenticated_upload_keeps_the_site_s_streaming_limits(world, settings):
    """Evidence uploads are refused by tasks.upload_handlers, which names the file and drains
    the body so that the uploader reads the answer (tests/test_evidence_hardening.py); the
    middleware neither refuses nor caps them."""
    from django.test import RequestFactory

    from api.middleware import body_limit

    request = RequestFactory().post("/api/checkins/")
    request.META.update(CONTENT_TYPE="multipart/form-data; boundary=x", HTTP_AUTHORIZATION="Token abc")
    assert body_limit(request) is None
    request.META.pop("HTTP_AUTHORIZATION")
    assert body_limit(request) == settings.API_ANONYMOUS_MAX_BODY_SIZE


def test_a_login_within_the_limit_still_works(world):
    response = Client().post(
        "/api/auth/token/", {"username": world.city_user.username, "password": f.PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["token"]


def test_an_authenticated_json_body_within_10_mb_is_read(world, assignment_of):
    from .helpers_domain import S as State
    from .helpers_domain import drive

    checkin = drive(world, assignment_of(world.enterprises[0]), State.PENDING_COUNTY_REVIEW)
    body = '{"comment": "同意"' + " " * (1 * MB) + "}"  # 1 MB: over the anonymous limit, under 10 MB
    response = api_client(world.county_users[0]).post(
        f"/api/checkins/{checkin.pk}/approve/", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]


def test_the_capped_stream_never_returns_more_than_the_limit():
    import io

    from api.middleware import BodyTooLarge, CappedStream

    capped = CappedStream(io.BytesIO(b"x" * 100), limit=10)
    assert capped.read(4) == b"xxxx"
    assert capped.read(6) == b"xxxxxx"
    with pytest.raises(BodyTooLarge):
        capped.read(1)
    with pytest.raises(BodyTooLarge):
        CappedStream(io.BytesIO(b"x" * 100), limit=10).read()
    assert CappedStream(io.BytesIO(b"x" * 10), limit=10).read() == b"x" * 10


def test_a_body_longer_than_its_content_length_claims_is_stopped_at_the_limit(db, settings):
    """Content-Length is what Django reads by; if a body ever arrives without one the
    capped stream still stops at the limit: 413, not a larger read."""
    import io

    from django.test import RequestFactory

    from api.middleware import ApiBodyLimitMiddleware

    request = RequestFactory().post("/api/auth/token/", b"{}", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "2"
    request._stream = io.BytesIO(b"[" + b" " * (settings.API_ANONYMOUS_MAX_BODY_SIZE + 10) + b"]")
    read = {}

    def view(request):
        read["body"] = request.read()

    with pytest.raises(Exception) as stopped:
        ApiBodyLimitMiddleware(view)(request)
    assert type(stopped.value).__name__ == "BodyTooLarge"
    assert "body" not in read
