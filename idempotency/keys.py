"""Idempotency keys: a retried POST gets the first answer instead of running the change twice.

A client names each change it makes with a key of its choosing: the API's `Idempotency-Key`
header, or the hidden token a form carries (`{% idempotency_field %}`). The first request
with a key runs; the service it calls records the answer *inside its own transaction*
(`Claim.record`, passed to the service as its outcome hook), so whenever the change
committed its answer is known, even if answering it failed afterwards (a lost connection
on COMMIT, a failure after commit). A later request with the same key and the same request
gets that answer back (`run`); the same key with another request is refused (`KeyReused`).

Only changes are remembered: a request that was refused (400, 403, 404, 409) changed
nothing, so running it again is harmless and gives the current answer. Keys are per user.

Two requests with one key at the same time: the second waits on the row lock of the object
both change (or on the key's unique index) until the first commits, then meets a conflict
(the state moved on, or the key is taken) and is answered with the first one's outcome.
"""

import contextlib
import datetime
import hashlib
import json
import logging
import string
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
MAX_KEY_LENGTH = IdempotencyKey._meta.get_field("key").max_length
_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)
# Fields a form posts that are not part of what it asks for.
_NOT_THE_REQUEST = frozenset({FORM_FIELD, "csrfmiddlewaretoken"})


class KeyReused(Exception):
    """The key was first used with another request (the API answers 422)."""


class KeyTaken(Exception):
    """A concurrent request with this key committed first: this one's change is rolled back."""


@dataclass(frozen=True)
class Outcome:
    """What a request that changed something answered."""

    status: int
    body: Any = None  # the API's JSON body
    redirect_to: str = ""  # a form's redirect
    message: str = ""  # and the message shown after it
    replayed: bool = False


def clean_key(value):
    """The key as sent, or ValidationError: 1 to 255 printable ASCII characters, no spaces."""
    if value is None:
        return None
    key = str(value)
    if not key or len(key) > MAX_KEY_LENGTH or not set(key) <= _KEY_CHARACTERS:
        raise ValidationError(
            _("The idempotency key must be 1 to %(max)d printable ASCII characters without spaces.")
            % {"max": MAX_KEY_LENGTH}
        )
    return key


def _canonical(value):
    """A JSON-able, order-independent form of parsed request data; files by their content."""
    if isinstance(value, File):
        if value.closed:  # an upload stopped at a limit (tasks.upload_handlers): refused anyway
            return {"file": value.name, "size": value.size, "stopped": True}
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
    if hasattr(value, "lists"):  # QueryDict, MultiValueDict: every value of every field
        return {key: _canonical(values) for key, values in sorted(value.lists()) if key not in _NOT_THE_REQUEST}
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items() if key not in _NOT_THE_REQUEST}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def request_hash(method, path, *parts):
    """SHA-256 of the method, the path and the parsed body (`parts`: data, files)."""
    payload = json.dumps(
        [method.upper(), path, [_canonical(part) for part in parts]], sort_keys=True
    )  # ASCII-escaped: a lone surrogate in a field name must not fail the encoding
    return hashlib.sha256(payload.encode()).hexdigest()


class Claim:
    """One request's use of a key: which request it is and, once it changed something, its outcome."""

    def __init__(self, user, key, method, path, request_hash):
        self.user, self.key, self.method, self.path, self.request_hash = user, key, method, path, request_hash
        self.outcome = None

    def previous(self):
        """The outcome an earlier request with this key recorded, or None; KeyReused if that
        request was another one."""
        row = IdempotencyKey.objects.filter(user=self.user, key=self.key).first()
        if row is None:
            return None
        if row.request_hash != self.request_hash:
            raise KeyReused(self.key)
        return Outcome(
            status=row.status_code,
            body=row.response_body,
            redirect_to=row.redirect_to,
            message=row.message,
            replayed=True,
        )

    def record(self, outcome):
        """Remember `outcome` under the key. Call it inside the transaction of the change, so
        that both commit or neither does; KeyTaken (the change must roll back) if a concurrent
        request with this key committed first."""
        try:
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    user=self.user,
                    key=self.key,
                    method=self.method,
                    path=self.path,
                    request_hash=self.request_hash,
                    status_code=outcome.status,
                    response_body=outcome.body,
                    redirect_to=outcome.redirect_to,
                    message=outcome.message,
                )
        except IntegrityError:
            raise KeyTaken(self.key) from None
        self.outcome = outcome


class Answer:
    """The outcome hook a view hands to a service: inside the service's transaction it turns
    the result into the request's Outcome (`make(result)`) and, when the request carries a
    key, records it there (Claim.record)."""

    def __init__(self, claim, make: Callable[[Any], Outcome]):
        self.claim, self.make, self.outcome = claim, make, None

    def __call__(self, result):
        outcome = self.make(result)
        if self.claim is not None:
            self.claim.record(outcome)
        self.outcome = outcome


def recorded(user, key, path):
    """The outcome the user's request to `path` recorded under `key`, or None (another user's
    key, another path, a key never used or forgotten)."""
    row = IdempotencyKey.objects.filter(user=user, key=str(key)[:MAX_KEY_LENGTH], path=path).first()
    if row is None:
        return None
    return Outcome(status=row.status_code, body=row.response_body, redirect_to=row.redirect_to, message=row.message)


def claim(user, key, method, path, *parts):
    """A Claim for a request of `user` carrying `key` (None without a key; ValidationError if
    the key is malformed). `parts` are the parsed body: data, files."""
    key = clean_key(key)
    if key is None or not getattr(user, "is_authenticated", False):
        return None
    return Claim(user, key, method.upper(), path, request_hash(method, path, *parts))


def run(claim, perform: Callable[[], Any], replay: Callable[[Outcome], Any], conflicts=()):
    """Answer a request: `replay(outcome)` if its key already has one, else `perform()`.

    `perform` passes `claim.record` (through an outcome hook) to the service it calls. When
    it fails with one of `conflicts` (the state moved on) or KeyTaken, a concurrent request
    with the same key may have made the change first: its outcome is then the answer.
    Without a claim (no key) this is just `perform()`.
    """
    if claim is None:
        return perform()
    found = claim.previous()
    if found is not None:
        return replay(found)
    try:
        return perform()
    except (KeyTaken, *conflicts):
        found = claim.previous()
        if found is not None:
            logger.info("Idempotency key %r of user %s: answered with the concurrent first request's outcome",
                        claim.key, claim.user.pk)
            return replay(found)
        raise


@contextlib.contextmanager
def _exclusive(claim):
    """Hold a PostgreSQL session lock named by the user and key while the block runs, so that a
    second request with this key waits for the first to finish. (SQLite runs one writer at a time.)"""
    if connection.vendor != "postgresql":
        yield
        return
    digest = hashlib.sha256(f"idempotency:{claim.user.pk}:{claim.key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def run_exclusive(claim, perform: Callable[[], Outcome], respond: Callable[[Outcome], Any]):
    """Answer a request whose change is several transactions (a batch of reviews): no single
    transaction can record its answer, so the key is held for the whole run instead, and the
    answer recorded after the last transaction. A second request with the key waits for the
    first, then gets its answer. `perform()` makes the change and returns its Outcome;
    `respond(outcome)` answers it (`outcome.replayed` for a replay). A run cut short (a
    crash) records nothing: its retry runs again and finds the items already done. Without a
    claim (no key) this is `respond(perform())`."""
    if claim is None:
        return respond(perform())
    with _exclusive(claim):
        found = claim.previous()
        if found is not None:
            return respond(found)
        outcome = perform()
        try:
            claim.record(outcome)
        except KeyTaken:  # not under the lock (SQLite): the first request's answer is the answer
            return respond(claim.previous())
        return respond(outcome)


def remove_old_keys(now=None):
    """Delete keys older than IDEMPOTENCY_KEYS_KEEP_HOURS; returns how many were deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(hours=settings.IDEMPOTENCY_KEYS_KEEP_HOURS)
    deleted, _per_model = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
