"""The OpenAPI schema is valid, describes every endpoint, field, enum and error response of
the API contract, and its documentation page loads without any external host."""

import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from tasks.models import AssignmentState, CheckInState

PATHS = {
    "/api/auth/token/": ["post"],
    "/api/auth/logout/": ["post"],
    "/api/auth/logout-all/": ["post"],
    "/api/me/": ["get"],
    "/api/regions/": ["get"],
    "/api/regions/{id}/": ["get"],
    "/api/enterprises/": ["get"],
    "/api/enterprises/{id}/": ["get"],
    "/api/periods/": ["get"],
    "/api/periods/{id}/": ["get"],
    "/api/indicators/": ["get"],
    "/api/indicators/{id}/": ["get"],
    "/api/assignments/": ["get"],
    "/api/assignments/{id}/": ["get"],
    "/api/checkins/": ["get", "post"],
    "/api/checkins/{id}/": ["get"],
    "/api/checkins/{id}/approve/": ["post"],
    "/api/checkins/{id}/return/": ["post"],
    "/api/checkins/{id}/score/": ["post"],
    "/api/checkins/{id}/reopen/": ["post"],
    "/api/evidence/{id}/download/": ["get"],
    "/api/rankings/counties/": ["get"],
    "/api/rankings/enterprises/": ["get"],
}


def _component(schema, ref):
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _json_schema(operation, status):
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_schema_validates_and_lists_every_path(schema):
    assert schema["openapi"].startswith("3.")
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert sorted(m for m in schema["paths"][path] if m != "parameters") == sorted(methods), path


def test_states_are_enums_with_the_domains_names(schema):
    components = schema["components"]["schemas"]
    assert components["CheckInStateEnum"]["enum"] == list(CheckInState.values)
    assert components["AssignmentStateEnum"]["enum"] == list(AssignmentState.values)
    assert set(components["RoleEnum"]["enum"]) == {"enterprise_liaison", "county_office", "city_office", "observer"}
    assert components["CheckIn"]["properties"]["state"] == {"$ref": "#/components/schemas/CheckInStateEnum"}
    assert components["Assignment"]["properties"]["state"] == {"$ref": "#/components/schemas/AssignmentStateEnum"}


def test_checkin_fields_are_described(schema):
    checkin = schema["components"]["schemas"]["CheckIn"]["properties"]
    for field in ["id", "assignment", "state", "version", "description", "points", "submitted_at", "files", "events"]:
        assert field in checkin, field
    evidence = _component(schema, checkin["files"]["items"]["$ref"])["properties"]
    assert {"id", "name", "size", "content_type", "download_url", "carried_from"} <= set(evidence)
    event = _component(schema, checkin["events"]["items"]["$ref"])["properties"]
    assert {"actor", "role", "action", "from_state", "to_state", "comment", "points", "at"} <= set(event)

    submit = schema["paths"]["/api/checkins/"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    body = _component(schema, submit["$ref"])
    assert body["properties"]["files"]["items"]["format"] == "binary"
    # A resubmission keeps files of the returned version by id (issue 15).
    assert body["properties"]["keep"]["items"]["type"] == "integer"
    assert "returned" in body["properties"]["keep"]["description"]
    # `files` may be left out when a resubmission keeps files instead (the service asks for one in all).
    assert set(body["required"]) == {"assignment", "description"}
    score = _component(schema, schema["paths"]["/api/checkins/{id}/score/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert "points" in score["required"]
    for action in ["return", "reopen"]:
        op = schema["paths"][f"/api/checkins/{{id}}/{action}/"]["post"]
        assert "reason" in _component(schema, op["requestBody"]["content"]["application/json"]["schema"]["$ref"])["required"]


def test_rankings_are_described(schema):
    counties = _json_schema(schema["paths"]["/api/rankings/counties/"]["get"], "200")
    assert counties["type"] == "array"
    row = _component(schema, counties["items"]["$ref"])["properties"]
    assert {"county", "score", "rank", "movement", "office_rate", "enterprise_mean_rate", "enterprises_counted"} <= set(row)
    page = _component(schema, _json_schema(schema["paths"]["/api/rankings/enterprises/"]["get"], "200")["$ref"])
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    row = _component(schema, page["properties"]["results"]["items"]["$ref"])["properties"]
    assert {"enterprise", "county", "points", "score_rate", "rank_in_county", "rank_in_city"} <= set(row)


def test_every_operation_documents_its_errors(schema):
    error = {"$ref": "#/components/schemas/Error"}
    validation = {"$ref": "#/components/schemas/ValidationError"}
    assert schema["components"]["schemas"]["ValidationError"]["additionalProperties"]["type"] == "array"
    for path, methods in PATHS.items():
        for method in methods:
            operation = schema["paths"][path][method]
            responses = operation["responses"]
            # A lost database answers 503 (with Retry-After) on every operation.
            assert _json_schema(operation, "503") == error, path
            if path == "/api/auth/token/":
                assert _json_schema(operation, "400") == validation
                assert _json_schema(operation, "429") == error
                assert _json_schema(operation, "415") == error
                assert _json_schema(operation, "413") == error  # over the body limit of anonymous requests
                continue
            if path in ("/api/auth/logout/", "/api/auth/logout-all/"):
                assert _json_schema(operation, "401") == error and "204" in responses, path
                continue
            assert _json_schema(operation, "401") == error and _json_schema(operation, "403") == error, path
            if path != "/api/me/":
                assert _json_schema(operation, "404") == error, path
            if method == "post":
                assert _json_schema(operation, "400") == validation, path
                assert _json_schema(operation, "409") == error, path
                assert _json_schema(operation, "415") == error, path  # e.g. a malformed multipart body
                assert _json_schema(operation, "413") == error, path  # over a body or upload limit
                assert _json_schema(operation, "422") == error, path  # an Idempotency-Key reused
            else:
                assert "413" not in responses, path
            if (path, method) == ("/api/checkins/", "post"):
                assert _json_schema(operation, "507") == error, path  # evidence on a full disk
            else:
                assert "507" not in responses, path
            assert all(
                code in ("200", "201", "400", "401", "403", "404", "409", "413", "415", "422", "503", "507")
                for code in responses
            )
            assert ("422" in responses) == (method == "post"), path  # an Idempotency-Key reused


def test_filters_are_described(schema):
    def names(path):
        return {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}

    assert {"period", "county", "enterprise", "state", "indicator", "page"} <= names("/api/assignments/")
    assert {"period", "county", "enterprise", "state", "assignment", "page"} <= names("/api/checkins/")
    assert {"period", "county", "page"} <= names("/api/rankings/enterprises/")
    assert {"period"} <= names("/api/rankings/counties/")


def test_schema_endpoint_serves_it(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert set(PATHS) <= set(response.json()["paths"])


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def test_docs_page_loads_with_no_external_host(db):
    client = APIClient()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not EXTERNAL.search(html), html
    assert "cdn" not in html.lower()
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert any("swagger-ui-bundle" in asset for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset

    # The page's own script (a separate response, so no inline script) points at the schema.
    script_url = next(a for a in assets if "script" in a and "/api/docs/" in a)
    script = client.get(script_url)
    assert script.status_code == 200
    text = script.content.decode()
    assert "/api/schema/" in text and "http://" not in text and "https://" not in text


def test_docs_assets_are_served_from_this_server(db):
    if "drf_spectacular_sidecar" not in settings.INSTALLED_APPS:
        pytest.skip('INSTALLED_APPS lacks "drf_spectacular_sidecar": the docs page would 404 on its assets')
    html = APIClient().get("/api/docs/").content.decode()
    static_prefix = settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL
    for asset in re.findall(r"""(?:src|href)="([^"?]+)\"""", html):
        if asset.startswith(static_prefix):
            assert finders.find(asset[len(static_prefix):]), asset
