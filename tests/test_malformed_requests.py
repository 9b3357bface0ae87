"""Malformed input is a Chinese 400 at every door, never a 500 (issue 13, point 7).

Deeply nested JSON (the parser recursed until RecursionError), lone surrogates in JSON
strings (they reached PostgreSQL's encoder) and NUL characters in the review and unlock forms
(a form error left the service call without its argument, or the NUL reached a query) all
answered 500. Each is refused with a Chinese message and changes nothing.
"""

import json
import re

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from rest_framework.exceptions import ParseError

from enterprises.inputs import clean_text
from tasks.models import CheckIn, ReviewEvent

from .helpers_domain import S as State
from .helpers_domain import drive
from .test_api import api_client

CHINESE = re.compile(r"[\u4e00-\u9fff]")
MAX_JSON_DEPTH = 32  # api.parsers.MAX_JSON_DEPTH


def nested(depth):
    return "[" * depth + "]" * depth


def workflow_state():
    return (
        tuple(CheckIn.objects.order_by("pk").values_list("pk", "state", "points")),
        tuple(ReviewEvent.objects.order_by("pk").values_list("pk", "action", "comment")),
    )


def assert_chinese_json_400(response):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert CHINESE.search(response.json()["detail"]), response.json()


def anonymous_client():
    # A 500 must show as a 500, not as an exception re-raised into the test.
    return Client(raise_request_exception=False)


# --- JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 20_000])
def test_deeply_nested_json_to_the_token_endpoint_is_a_chinese_400(db, depth):
    body = '{"username": "city", "password": ' + nested(depth) + "}"
    response = anonymous_client().post("/api/auth/token/", body, content_type="application/json")
    assert_chinese_json_400(response)
    assert not AccessAttempt.objects.exists()


@pytest.mark.parametrize("action,field", [("approve", "comment"), ("return", "reason")])
def test_deeply_nested_json_to_a_review_action_is_a_chinese_400(world, assignment_of, action, field):
    checkin = drive(world, assignment_of(world.enterprises[0]), State.PENDING_COUNTY_REVIEW)
    before = workflow_state()
    client = api_client(world.county_users[0])
    body = '{"%s": %s}' % (field, nested(50_000))
    response = client.post(f"/api/checkins/{checkin.pk}/{action}/", body, content_type="application/json")
    assert_chinese_json_400(response)
    assert workflow_state() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"comment": "\\ud800"}',  # a lone high surrogate
        '{"comment": "ok\\udfff"}',  # a lone low surrogate
        '{"\\ud800": "x"}',  # in a key
        '{"comment": NaN}',
        '{"comment": -Infinity}',
    ],
)
def test_json_with_lone_surrogates_or_non_numbers_is_a_chinese_400(world, assignment_of, body):
    checkin = drive(world, assignment_of(world.enterprises[0]), State.PENDING_COUNTY_REVIEW)
    before = workflow_state()
    response = api_client(world.county_users[0]).post(
        f"/api/checkins/{checkin.pk}/approve/", body, content_type="application/json"
    )
    assert_chinese_json_400(response)
    assert workflow_state() == before


def test_a_surrogate_pair_is_ordinary_text(world, assignment_of):
    checkin = drive(world, assignment_of(world.enterprises[0]), State.PENDING_COUNTY_REVIEW)
    response = api_client(world.county_users[0]).post(
        f"/api/checkins/{checkin.pk}/approve/", '{"comment": "\\ud83d\\ude00 同意"}', content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    assert ReviewEvent.objects.filter(action=ReviewEvent.Action.APPROVE).get().comment == "\U0001f600 同意"


def parse(text):
    from io import BytesIO

    from api.parsers import PortalJSONParser

    return PortalJSONParser().parse(BytesIO(text.encode()), "application/json", {})


def test_the_parser_takes_json_as_deep_as_the_limit_and_no_deeper():
    from api.parsers import MAX_JSON_DEPTH as limit

    assert limit == MAX_JSON_DEPTH
    assert parse(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    deep_object = '{"a": ' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH
    assert parse(deep_object) == json.loads(deep_object)
    with pytest.raises(ParseError):
        parse(nested(MAX_JSON_DEPTH + 1))
    # Brackets inside strings are text, not nesting.
    assert parse(json.dumps({"a": "[" * 1000, "b": '"\\' + "{" * 1000})) == {"a": "[" * 1000, "b": '"\\' + "{" * 1000}


@pytest.mark.parametrize("text", ["[1, 2", "]]", "{]", '{"a": "[" ]'])
def test_malformed_json_is_still_a_parse_error(text):
    with pytest.raises(ParseError):
        parse(text)


# --- NUL characters in the site's forms -----------------------------------------------------

REVIEW_FORMS = {
    # action: (the state it acts on, who posts, the data with a NUL)
    "approve": (State.PENDING_COUNTY_REVIEW, "county", {"comment": "同意\x00"}),
    "return_checkin": (State.PENDING_COUNTY_REVIEW, "county", {"reason": "材料不全\x00"}),
    "score": (State.PENDING_CITY_REVIEW, "city", {"points": "8", "comment": "\x00"}),
    "score_points": (State.PENDING_CITY_REVIEW, "city", {"points": "8\x00", "comment": ""}),
    "reopen": (State.SCORED, "city", {"reason": "复核\x00"}),
}


@pytest.mark.parametrize("case", sorted(REVIEW_FORMS))
def test_a_nul_character_in_a_review_form_is_a_chinese_400(world, assignment_of, case):
    state, who, data = REVIEW_FORMS[case]
    checkin = drive(world, assignment_of(world.enterprises[0]), state)
    before = workflow_state()
    client = Client(raise_request_exception=False)
    client.force_login(world.county_users[0] if who == "county" else world.city_user)
    url_name = "tasks:score" if case.startswith("score") else f"tasks:{case}"
    response = client.post(reverse(url_name, args=[checkin.pk]), data)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    page = response.content.decode()
    assert re.search(r'<div class="alert alert--error" role="alert">[^<]*<[^>]*>[^<]*[\u4e00-\u9fff]', page) or (
        "空字符" in page
    ), page[:2000]
    assert workflow_state() == before


@pytest.mark.parametrize("action,field", [("approve", "comment"), ("return", "reason")])
def test_a_nul_character_in_a_review_action_of_the_api_is_a_chinese_400(world, assignment_of, action, field):
    checkin = drive(world, assignment_of(world.enterprises[0]), State.PENDING_COUNTY_REVIEW)
    before = workflow_state()
    response = api_client(world.county_users[0]).post(
        f"/api/checkins/{checkin.pk}/{action}/", {field: "a\x00b"}, format="json"
    )
    assert_chinese_json_400(response)
    assert workflow_state() == before


@pytest.mark.parametrize("username", ["ent0001\x00", "\x00", "\x00ent0001"])
def test_a_nul_character_in_the_unlock_form_is_a_chinese_400(world, username):
    client = Client(raise_request_exception=False)
    client.force_login(world.city_user)
    response = client.post(reverse("unlock_accounts"), {"username": username})
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "空字符" in response.content.decode()


def test_the_shared_text_cleaning_refuses_nul_characters():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        clean_text("说明\x00", "说明", required=True, max_length=100)
    assert "空字符" in refused.value.messages[0]
    assert clean_text("  说明  ", "说明", required=True, max_length=100) == "说明"


def test_the_unlock_service_refuses_a_nul_character(world):
    from django.core.exceptions import ValidationError

    from accounts import security

    with pytest.raises(ValidationError):
        security.unlock_user(world.city_user, "ent0001\x00")
