"""The API's request body limits, enforced before anything reads the body.

Django applies DATA_UPLOAD_MAX_MEMORY_SIZE when a view reads request.body or request.POST,
but DRF's JSON and form parsers read the raw stream, so a 60 MB JSON body to the token
endpoint was read whole (seconds and ~180 MB of one worker) without logging in. Here, before
any parsing: a body larger than the limit by its Content-Length is answered 413 without
reading it, and the stream is capped so that nothing reads past the limit either way.

The limits:
- requests without credentials (no Authorization header, no session cookie) and endpoints
  that take none (the token endpoint): API_ANONYMOUS_MAX_BODY_SIZE (64 KB);
- multipart bodies of authenticated requests (evidence uploads): the site's limits, not
  ours: tasks.upload_handlers refuses a body declared or streaming over the evidence limits
  with a message naming the file and drains the rest, so that the uploader reads the
  answer; Django applies DATA_UPLOAD_MAX_MEMORY_SIZE to the other fields;
- any other body of an authenticated request: DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB), as on the site.

A refused body is not drained: a client without credentials gets no worker's time for it.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.urls import Resolver404, resolve

from chanjgai_portal.error_views import API_PREFIX, body_too_large_message, json_error


class BodyTooLarge(RequestDataTooBig):
    """The body went past the API's limit while being read; handler400 answers 413."""

    def __init__(self, limit):
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class CappedStream:
    """A file-like body that raises BodyTooLarge rather than return more than `limit` bytes."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.consumed = 0

    def _count(self, data):
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise BodyTooLarge(self.limit)
        return data

    def _size(self, size):
        # Never ask the underlying stream for more than one byte past the limit.
        room = self.limit - self.consumed + 1
        return room if size is None or size < 0 else min(size, room)

    def read(self, size=-1):
        return self._count(self.stream.read(self._size(size)))

    def readline(self, size=-1):
        return self._count(self.stream.readline(self._size(size)))

    def __iter__(self):
        while line := self.readline():
            yield line

    def close(self):
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


def _takes_no_credentials(path):
    """Whether the API view at `path` authenticates nobody (e.g. the token endpoint)."""
    try:
        match = resolve(path)
    except Resolver404:
        return True
    view_class = getattr(match.func, "cls", None)
    return view_class is not None and not list(getattr(view_class, "authentication_classes", [None]))


def _presents_credentials(request):
    return bool(request.META.get("HTTP_AUTHORIZATION")) or settings.SESSION_COOKIE_NAME in request.COOKIES


def body_limit(request):
    """The largest body (bytes) this API request may send, or None when the site's own
    streaming limits apply (an authenticated multipart upload)."""
    if not _presents_credentials(request) or _takes_no_credentials(request.path_info):
        return settings.API_ANONYMOUS_MAX_BODY_SIZE
    if request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/"):
        return None
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _content_length(request):
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # as Django reads it: no body


class ApiBodyLimitMiddleware:
    """Right after SecurityMiddleware: 413 (JSON, Chinese detail) for an API request whose
    body is over its limit, before sessions, CSRF, authentication or a parser read it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            limit = body_limit(request)
            if limit is None:
                return self.get_response(request)
            if _content_length(request) > limit:
                return json_error(body_too_large_message(limit), 413)
            if hasattr(request, "_stream"):
                request._stream = CappedStream(request._stream, limit)
        return self.get_response(request)
