"""Turns the domain's exceptions into the API's JSON error bodies.

Every error body has a Chinese `detail`; a 400 also carries the field errors where the
failing field is known ({"detail": "...", "points": ["..."]}). The services' messages are
msgids the zh_Hans catalog translates; DRF's own messages come from DRF's catalog.
"""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, UnreadablePostError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from chanjgai_portal.error_views import infrastructure_failure
from chanjgai_portal.errors import Conflict
from enterprises.inputs import messages_of

log = logging.getLogger("django.request")


class FieldValidationError(exceptions.ValidationError):
    """A service's ValidationError attributed to the request field it is about."""

    def __init__(self, field, error):
        super().__init__({field: messages_of(error)})


def _first_message(detail):
    """The first message in DRF's nested error detail (dict / list / string)."""
    if isinstance(detail, dict):
        # A non-field error says most about what went wrong; otherwise the first field's.
        for key in ("non_field_errors", *detail):
            if key in detail:
                found = _first_message(detail[key])
                if found:
                    return found
        return ""
    if isinstance(detail, (list, tuple)):
        for item in detail:
            found = _first_message(item)
            if found:
                return found
        return ""
    return str(detail)


def _flatten(detail):
    """Every message in a nested detail (a list field's {index: [...]}) as one flat list."""
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, (list, tuple)):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def _validation_body(detail):
    """{"detail": the first message, field: [messages]…} from DRF's ValidationError detail."""
    if isinstance(detail, dict):
        body = {key: _flatten(value) for key, value in detail.items()}
        body["detail"] = _first_message(detail) or str(exceptions.ValidationError.default_detail)
        return body
    return {"detail": _first_message(detail) or str(exceptions.ValidationError.default_detail)}


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: domain errors first, then DRF's own handling.

    A lost database or a full disk gets the same 503/507 as everywhere else
    (chanjgai_portal.error_views; for a full disk nothing was kept: the storage removes a
    partial file, the staging the rest); other unexpected exceptions go on to handler500 (JSON)."""
    failure = infrastructure_failure(exc)
    if failure is not None:
        status_code, message, headers = failure
        request = context.get("request")
        log.error("%s on %s", type(exc).__name__, getattr(request, "path", "?"), exc_info=exc)
        return Response({"detail": str(message)}, status=status_code, headers=headers)
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc.message)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        body = {}
        if hasattr(exc, "error_dict"):
            body = {
                "non_field_errors" if field == NON_FIELD_ERRORS else field: [str(m) for m in messages]
                for field, messages in exc.message_dict.items()
            }
        body["detail"] = " ".join(messages_of(exc))
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    # DRF's default turns these into its generic message; keep the service's Chinese one.
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        message = str(exc) if isinstance(exc, Http404) and str(exc) else None
        exc = exceptions.NotFound(message)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, UnreadablePostError):
        # The client stopped sending its body (gunicorn's client timeout) or went away: its
        # fault, not the server's, and nothing was read, so nothing changed.
        exc = exceptions.ParseError(_("The request body did not arrive in full. Please send it again."))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    elif not isinstance(response.data, dict) or "detail" not in response.data:
        response.data = {"detail": _first_message(response.data)}
    return response
