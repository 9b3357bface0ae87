"""The API's `Idempotency-Key` header: every POST can be retried safely (idempotency.keys).

A client that did not get an answer (a timeout, a 500 after the change committed, a lost
connection) sends the same request again with the same key: it gets the first answer (its
status and body, with `Idempotent-Replayed: true`), and the change is not made twice. The
same key with another request is a 422. Keys are per user and kept
IDEMPOTENCY_KEYS_KEEP_HOURS hours.

The auth endpoints take none: logging in (auth/token) has no user yet to keep a key for, and
a logout (auth/logout, auth/logout-all) ends the token its own retry would be sent with (the
retry is a 401, and the client is logged out either way). tests/test_idempotency.py fails
for any other API view that takes POST without this mixin.
"""

import functools
import json

from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from idempotency import keys
from tasks.workflow import WorkflowError

REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_detail = gettext_lazy(
        "This Idempotency-Key was already used for a different request; use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


def as_json(data):
    """`data` as the plain JSON the client receives (what a replay must send again)."""
    return json.loads(JSONRenderer().render(data))


class IdempotentPostMixin:
    """Every POST of the view honours an `Idempotency-Key` header.

    A handler whose service takes an outcome hook passes it `self.answer(status, render)`, so
    that its answer is rendered and recorded inside the change's transaction; the 2xx answer
    of any other POST is recorded when its handler returns.
    """

    # A concurrent request with the same key that changed the state first shows as these.
    idempotency_conflicts = (WorkflowError,)
    # Actions whose change is several transactions (a batch): the key is held while they run
    # and the answer recorded after them (keys.run_exclusive).
    exclusive_actions = ()
    idempotency = None  # the request's keys.Claim, when it carries a key

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticated, permitted, not throttled
        self.idempotency = None
        if request.method != "POST" or not hasattr(self, "post"):
            return
        self.idempotency = keys.claim(
            request.user, request.headers.get(keys.HEADER), request.method, request.get_full_path(), request.data
        )
        if self.idempotency is not None:
            # dispatch() looks the handler up after initial(): this POST runs through the key.
            self.post = functools.partial(self._post_once, self.post)

    def _post_once(self, handler, request, *args, **kwargs):
        claim = self.idempotency

        def perform():
            response = handler(request, *args, **kwargs)
            if claim.outcome is None and 200 <= response.status_code < 300:
                try:
                    claim.record(keys.Outcome(response.status_code, body=as_json(response.data)))
                except keys.KeyTaken:
                    pass  # a concurrent request with this key answered first
            return response

        def perform_exclusive():
            response = handler(request, *args, **kwargs)
            return keys.Outcome(response.status_code, body=as_json(response.data))

        def respond(outcome):
            return self._replay(outcome) if outcome.replayed else Response(outcome.body, status=outcome.status)

        try:
            if getattr(self, "action", None) in self.exclusive_actions:
                return keys.run_exclusive(claim, perform_exclusive, respond)
            return keys.run(claim, perform, self._replay, conflicts=self.idempotency_conflicts)
        except keys.KeyReused:
            raise IdempotencyKeyReused() from None

    @staticmethod
    def _replay(outcome):
        return Response(outcome.body, status=outcome.status, headers={REPLAYED_HEADER: "true"})

    def answer(self, status, render):
        """The outcome hook for a service: `render(result)` is the body of a `status` answer,
        made inside the service's transaction and recorded there under the request's key."""
        return keys.Answer(self.idempotency, lambda result: keys.Outcome(status, body=as_json(render(result))))

    @staticmethod
    def respond(answer):
        """The response of an answer the service's outcome hook made."""
        return Response(answer.outcome.body, status=answer.outcome.status)
