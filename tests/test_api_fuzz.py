"""Property-based fuzz of the API from its own OpenAPI schema (schemathesis): as a user of
each role, every operation answers generated input with no server error, a documented
status code and content type, and a body that matches the schema.

The token endpoint is fuzzed too (its 429 lockout answer is documented); it is where the fuzz
found a 500 for a username with a NUL character (tests/test_login_lockout.py).

On a developer machine every run draws new examples; with CI set they are derandomized, so a
CI result is reproducible and a red CI points at a change rather than at a new draw.
"""

import os

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import security
from tasks import services

from . import factories as f

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ["liaison", "county_office", "city_office", "observer"]


@pytest.fixture
def _wsgi_in_test_transaction():
    """The WSGI handler closes "old" connections around each request, which would end the
    test's transaction; Django's own test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=ROLES)
def fuzz_user(request, world, assignment_of):
    """A user of each role, in a world with check-ins in several states."""
    cache.clear()
    e11, e12, e21 = world.enterprises[0], world.enterprises[1], world.enterprises[2]
    pending = services.submit_checkin(world.liaisons[0], assignment_of(e11), "说明", [f.pdf_upload()])
    forwarded = services.submit_checkin(world.liaisons[1], assignment_of(e12), "说明", [f.pdf_upload()])
    services.approve(world.county_users[0], forwarded)
    scored = services.submit_checkin(world.liaisons[2], assignment_of(e21), "说明", [f.pdf_upload()])
    services.approve(world.county_users[1], scored)
    services.score(world.city_user, scored, "7")
    services.submit_checkin(world.county_users[0], assignment_of(world.counties[0]), "说明", [f.pdf_upload()])
    assert pending.pk
    return {
        "liaison": world.liaisons[0],
        "county_office": world.county_users[0],
        "city_office": world.city_user,
        "observer": world.observer,
    }[request.param]


@pytest.fixture
def api_schema(fuzz_user, _wsgi_in_test_transaction, settings):
    settings.ALLOWED_HOSTS = ["*"]
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))
def test_api_answers_generated_input_as_documented(case, fuzz_user):
    # A new token per case: a generated call to /api/auth/logout/ ends the one it was sent with.
    _token, key = security.issue_api_token(fuzz_user)
    case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=CHECKS)
