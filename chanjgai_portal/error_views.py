"""The error handlers (handler400/403/404/500): JSON with a Chinese `detail` under /api/,
the site's pages elsewhere; and the one mapping of infrastructure failures to statuses.

A lost database (a PostgreSQL restart: OperationalError/InterfaceError) is temporary: 503
with Retry-After, so that clients and proxies retry instead of reporting a bug. A full disk
(chanjgai_portal.storage.is_storage_full) is 507 with the upload's message. Anything else uncaught stays a 500. The 500 handler reads the
exception from sys.exc_info(): Django calls it inside the `except` that caught it, for
exceptions raised in views and in middleware alike. DRF views reach the same mapping
through api.errors.exception_handler.

With DEBUG on, Django answers with its technical pages instead of calling these handlers;
PortalErrorPagesMiddleware (below) calls them then too, unless DEBUG_TECHNICAL_ERRORS is on.

The 503 page renders without a request context (no user, no context processors: the
database is what is missing), as Django's own 500 handler does.
"""

import sys

from django.conf import settings
from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.template.defaultfilters import filesizeformat
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.views import defaults

from .storage import is_storage_full, storage_full_message

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 30


def is_api(request):
    return request.path_info.startswith(API_PREFIX)


def json_error(message, status, headers=None):
    """The API's error body: {"detail": "…"} with `status` (and extra headers)."""
    response = JsonResponse({"detail": str(message)}, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def infrastructure_failure(exception):
    """(status, Chinese message, headers) for a failure of the infrastructure, else None."""
    if isinstance(exception, (OperationalError, InterfaceError)):
        message = _("The database is briefly unavailable. Nothing was saved; please try again in a moment.")
        return 503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_storage_full(exception):
        return 507, storage_full_message(), {}
    return None


def infrastructure_response(request, exception):
    """The response for an infrastructure failure (JSON under /api/, a page elsewhere), or None."""
    failure = infrastructure_failure(exception)
    if failure is None:
        return None
    status, message, headers = failure
    if is_api(request):
        return json_error(message, status, headers)
    if status == 507:  # the database is up: the page with the site's frame
        return render(request, "507.html", {"message": message}, status=status)
    page = loader.get_template("503.html").render({"status": status, "message": message})
    response = HttpResponse(page, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def body_too_large_message(limit):
    return _("The request body is too large (at most %(size)s). Nothing was processed.") % {
        "size": filesizeformat(limit)
    }


def bad_request(request, exception, template_name="400.html"):
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            # Django's own limit, or the API's (api.middleware.BodyTooLarge carries it).
            limit = getattr(exception, "limit", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            return json_error(body_too_large_message(limit), 413)
        return json_error(_("The request could not be understood."), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception, template_name="403.html"):
    if is_api(request):
        return json_error(str(exception) or _("You do not have permission to do this."), 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception, template_name="404.html"):
    if is_api(request):
        return json_error(_("Not found."), 404)
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    response = infrastructure_response(request, sys.exc_info()[1])
    if response is not None:
        return response
    if is_api(request):
        return json_error(_("Something went wrong on our side. Please try again in a moment."), 500)
    return defaults.server_error(request)


class PortalErrorPagesMiddleware:
    """With DEBUG on, the handlers above (the portal's Chinese 404/400/500 pages, the API's JSON errors)
    instead of Django's technical pages, unless DEBUG_TECHNICAL_ERRORS is on: `make run` is a demo that
    people look at, and a developer who wants the traceback page sets DEBUG_TECHNICAL_ERRORS=1. Without
    DEBUG it does nothing: Django calls the handlers itself.

    Exceptions of views go through process_exception (logged and signalled as Django does); what Django
    answered by itself, a URL that matches no route (technical 404) or an exception raised in a
    middleware (technical 500, already logged), is replaced in __call__. First in MIDDLEWARE, so that
    it sees every response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def active():
        return settings.DEBUG and not settings.DEBUG_TECHNICAL_ERRORS

    def __call__(self, request):
        response = self.get_response(request)
        if not self.active() or getattr(response, "portal_error_page", False):
            return response
        if response.status_code == 404 and request.resolver_match is None:
            return _marked(page_not_found(request, Http404()))
        if response.status_code == 500:
            return _marked(server_error(request))
        return response

    def process_exception(self, request, exception):
        if not self.active() or isinstance(exception, PermissionDenied):
            return None  # PermissionDenied: Django calls handler403 with DEBUG on too
        if isinstance(exception, Http404):
            response = page_not_found(request, exception)
        elif isinstance(exception, (BadRequest, SuspiciousOperation)):
            response = bad_request(request, exception)
        else:
            signals.got_request_exception.send(sender=None, request=request)
            response = server_error(request)  # reads the exception from sys.exc_info()
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request, exception=exception
        )
        return _marked(response)


def _marked(response):
    response.portal_error_page = True
    return response
