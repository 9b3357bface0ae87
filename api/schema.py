"""OpenAPI schema generation: every operation documents the error bodies it can answer with.

api.errors gives every error a JSON body {"detail": "…"} (a 400 also has one list of
messages per failing field); PortalAutoSchema adds those responses to each operation so
that clients and the fuzz tests know them, and `add_field_errors` states the 400 shape.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from idempotency.keys import HEADER, MAX_KEY_LENGTH

from . import serializers
from .idempotent import REPLAYED_HEADER, IdempotentPostMixin

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Makes a retry safe. A key of your choice (1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a"
        " UUID), new for each change you mean to make. Sending the same request again with the same key"
        " (after a timeout or a 5xx) does not repeat the change: it answers what the first request answered"
        f" (status and body, with the header `{REPLAYED_HEADER}: true`). The same key with a different request"
        " is a 422. Keys are per user and remembered for IDEMPOTENCY_KEYS_KEEP_HOURS (24) hours; only a"
        " request that changed something is remembered, so a refused one (4xx) may be retried as it is."
    ),
)

ERROR_DESCRIPTIONS = {
    "400": "Bad input: `detail` and one list of messages per failing field.",
    "401": "Not logged in: send `Authorization: Token <token>` or a session cookie. A token that expired"
    " or was revoked is refused too: get a new one from /api/auth/token/.",
    "403": "The user's role may not do this.",
    "404": "Not found in the user's scope (or a page past the end).",
    "409": "The check-in's state does not allow this now: someone may have acted first.",
    "413": "The body is larger than the API takes (64 KB without credentials and on the token endpoint,"
    " 10 MB otherwise) and was not read; or, for an upload, a file is larger than the per-file limit or"
    " the files together pass the per-check-in limit: the upload was stopped while it streamed in and"
    " nothing was stored.",
    "415": "The body is not in a media type the operation accepts (or a malformed multipart body).",
    "422": "This Idempotency-Key was first used with a different request (another path or body).",
    "429": "Too many failed logins for this username from this address; retry later.",
    "503": "The database is briefly unavailable (e.g. restarting): nothing was done; retry after"
    " the `Retry-After` seconds.",
    "507": "The server's storage is full: nothing of the request was stored; retry later.",
}


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """api.authentication's knox tokens, described as DRF's tokens were (`tokenAuth`)."""

    target_class = "api.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the portal's error responses and the Idempotency-Key
    header of every POST (api.idempotent)."""

    def _takes_idempotency_key(self):
        return self.method == "POST" and isinstance(self.view, IdempotentPostMixin)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._takes_idempotency_key():
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        return parameters

    def _error_statuses(self):
        path, method = self.path, self.method
        if path.endswith("/auth/token/"):
            return ["400", "413", "415", "429", "503"]
        if path.endswith(("/auth/logout/", "/auth/logout-all/")):
            return ["401", "413", "503"]
        statuses = ["401", "403", "503"]
        if path.endswith("/me/"):
            return statuses
        statuses.append("404")
        if not path.endswith("/download/"):
            statuses.append("400")  # bad filters or query parameters, or a bad body
        if method == "POST":
            statuses.extend(["409", "413", "415"])
            if getattr(self.view, "action", None) in getattr(self.view, "upload_actions", ()):
                statuses.append("507")
            if self._takes_idempotency_key():
                statuses.append("422")
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_statuses():
            if code in responses:
                continue
            body = serializers.ValidationErrorSerializer if code == "400" else serializers.ErrorSerializer
            responses[code] = self._get_response_for_code(
                OpenApiResponse(body, description=ERROR_DESCRIPTIONS[code]), code, direction=direction
            )
        return responses


def add_field_errors(result, generator, request, public):
    """POSTPROCESSING_HOOKS: a 400 body may carry a list of messages for any field."""
    component = result.get("components", {}).get("schemas", {}).get("ValidationError")
    if component is not None:
        component["additionalProperties"] = {"type": "array", "items": {"type": "string"}}
    return result
