"""Turns domain errors raised by services into responses, the same way for every view."""

from django.shortcuts import render

from tasks.workflow import WorkflowError


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, WorkflowError):
            return render(request, "409.html", {"message": exception.message}, status=409)
        return None
