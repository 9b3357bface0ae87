"""Form errors a screen reader can find (issue 20): a field with an error says so (aria-invalid)
and points at its error text (aria-describedby → "<auto_id>_error", rendered by
includes/field_errors.html); the error summary is an alert; and no page points an ARIA reference
or a label at an element that is not there."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.e2e.main_pages import ROLES, USERNAMES, main_pages

pytestmark = pytest.mark.django_db

REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls")


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = {}
        self.elements = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if attrs.get("id"):
            self.ids[attrs["id"]] = (tag, attrs)


def parse(response):
    parser = _Elements()
    parser.feed(response.content.decode())
    return parser


def dangling_references(response):
    """Every ARIA id reference or <label for> of the page that names no element of the page."""
    page = parse(response)
    dangling = []
    for tag, attrs in page.elements:
        for name in REFERENCES:
            for ident in (attrs.get(name) or "").split():
                if ident not in page.ids:
                    dangling.append(f"<{tag} {name}={ident!r}>")
        if tag == "label" and attrs.get("for") and attrs["for"] not in page.ids:
            dangling.append(f"<label for={attrs['for']!r}>")
    return dangling


def assert_field_error(response, field_id):
    """The field is aria-invalid and described by an element that holds its error text."""
    page = parse(response)
    tag, attrs = page.ids[field_id]
    assert attrs.get("aria-invalid") == "true", (field_id, attrs)
    described = (attrs.get("aria-describedby") or "").split()
    assert f"{field_id}_error" in described, (field_id, described)
    assert f"{field_id}_error" in page.ids
    body = response.content.decode()
    start = body.index(f'id="{field_id}_error"')
    assert body[start : body.index("</div>", start)].count("<p>") >= 1
    assert 'role="alert"' in body  # the summary above the form is announced
    assert dangling_references(response) == []


def test_no_main_page_points_at_a_missing_element(client, world):
    pages = main_pages(world)
    for role in ROLES:
        client.force_login(get_user_model().objects.get(username=USERNAMES[role]))
        for label, path in pages[role]:
            response = client.get(path)
            assert dangling_references(response) == [], f"{role} {label} {path}"


def test_a_submission_without_a_description_marks_the_field(client, world):
    liaison = world.liaisons[0]
    assignment = world.period.assignments.get(enterprise=world.enterprises[0], indicator=world.ind)
    client.force_login(liaison)
    response = client.post(reverse("tasks:submit", args=[assignment.pk]), {"description": ""})
    assert response.status_code == 400
    assert_field_error(response, "id_description")


def test_a_return_without_a_reason_marks_the_reason_field(client, world, pdf_upload):
    from tasks import services

    assignment = world.period.assignments.get(enterprise=world.enterprises[0], indicator=world.ind)
    checkin = services.submit_checkin(world.liaisons[0], assignment, "已完成。", [pdf_upload()])
    client.force_login(world.county_users[0])
    response = client.post(reverse("tasks:return_checkin", args=[checkin.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert_field_error(response, "return_reason")


def test_a_notice_without_a_title_marks_the_title_field(client, world):
    client.force_login(world.city_user)
    response = client.post(reverse("notices:notice_create"), {"title": "", "body": "正文", "audience": "city"})
    assert response.status_code == 400
    assert_field_error(response, "id_title")


def test_a_wrong_current_password_marks_the_field(client, world):
    client.force_login(world.liaisons[0])
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "a-New-pass-2026", "new_password2": "a-New-pass-2026"},
    )
    assert response.status_code == 200
    assert_field_error(response, "id_old_password")


def test_rule_weights_that_do_not_add_up_mark_a_weight(client, world):
    client.force_login(world.city_user)
    response = client.post(
        reverse("scoring:rule") + f"?period={world.period.pk}",
        {"office_weight": "abc", "enterprise_weight": "60", "tie_method": "shared"},
    )
    assert response.status_code == 400
    assert_field_error(response, "id_office_weight")
