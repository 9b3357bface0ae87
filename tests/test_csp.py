"""Content Security Policy (django-csp): every page and API answer carries a policy without
inline scripts and without framing; only the Swagger UI page relaxes its styles; and the
templates keep to it (no inline <script>, no on…= handlers)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def policy(response):
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP header on {response.wsgi_request.path}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(directives):
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "data:" in directives["img-src"]


def test_the_login_page_has_the_strict_policy(db):
    assert_strict(policy(Client().get(reverse("login"))))


def test_the_city_dashboard_with_its_charts_has_the_strict_policy(world):
    client = Client()
    client.force_login(world.city_user)
    response = client.get(reverse("dashboards:city"))
    assert response.status_code == 200
    assert_strict(policy(response))


def test_api_answers_carry_the_policy(world):
    assert_strict(policy(APIClient().get("/api/me/")))  # refused, still with the header
    client = APIClient()
    client.force_authenticate(world.city_user)
    response = client.get("/api/regions/")
    assert response.status_code == 200
    assert_strict(policy(response))


def test_only_the_api_docs_page_allows_inline_styles(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    directives = policy(response)
    assert "'unsafe-inline'" in directives["style-src"]
    assert directives["script-src"] == ["'self'"]  # Swagger UI's own script is a file too
    assert directives["frame-ancestors"] == ["'none'"]
    assert "<script>" not in response.content.decode()


@pytest.mark.parametrize("path", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_scripts_or_handlers(path):
    text = (TEMPLATES / path).read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
        assert "src=" in tag or 'type="application/json"' in tag, f"{path}: inline script {tag}"
    assert not re.search(r"\son[a-z]+\s*=", text, flags=re.IGNORECASE), f"{path}: inline event handler"
    assert "javascript:" not in text.lower(), f"{path}: javascript: URL"
