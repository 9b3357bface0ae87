"""Turns domain errors raised by services into responses, the same way for every view."""

from django.shortcuts import render

from .errors import Conflict
from .storage import is_storage_full, storage_full_message


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Conflict):
            return render(request, "409.html", {"message": exception.message}, status=409)
        if is_storage_full(exception):
            # Nothing was kept (the storage removes a partial file, the staging the rest).
            return render(request, "507.html", {"message": storage_full_message()}, status=507)
        return None
