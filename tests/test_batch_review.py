"""Batch decisions (tasks.batch): a county office approves many check-ins at once, a city
office returns many with one reason. Each item goes through the single-item service, so each
has its own event, notification, lock and refusal; the page, the API and the races."""

import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from chanjgai_portal import broker
from notifications.celery_tasks import send_outgoing_emails
from notifications.models import Notification
from scoring import recompute
from scoring.models import RecomputeRequest
from tasks import batch, services
from tasks.models import CheckIn, CheckInState, ReviewEvent
from tasks.services import generate_assignments

from . import factories as f
from .test_api import CHINESE, api_client, assert_error

S = CheckInState
A = ReviewEvent.Action


@pytest.fixture
def pending(world):
    """Check-ins waiting for county review: 6 in county 1 (its 2 enterprises × 3 indicators),
    2 in county 2; as {"c1": [...], "c2": [...]}, oldest first."""
    for code in ("B02", "B03"):
        f.IndicatorFactory(city=world.city, code=code, title=f"指标{code}", max_points=10)
    generate_assignments(world.period)
    out = {"c1": [], "c2": []}
    for assignment in world.period.assignments.filter(enterprise__isnull=False).order_by("indicator__code", "pk"):
        liaison = world.liaisons[world.enterprises.index(assignment.enterprise)]
        if assignment.county_id == world.counties[1].pk and assignment.indicator.code != "B01":
            continue
        checkin = services.submit_checkin(liaison, assignment, "已开展，见附件。", [f.pdf_upload()])
        out["c1" if assignment.county_id == world.counties[0].pk else "c2"].append(checkin)
    return out


def ids_of(checkins):
    return [c.pk for c in checkins]


def states(checkins):
    return [CheckIn.objects.get(pk=c.pk).state for c in checkins]


def events(checkins, action):
    return ReviewEvent.objects.filter(checkin__in=ids_of(checkins), action=action).count()


# --- the service ---------------------------------------------------------------------------
def test_batch_approve_forwards_each_with_its_own_event_and_no_notification(world, pending):
    items = pending["c1"]
    before = Notification.objects.filter(recipient=world.city_user).count()

    result = batch.batch_approve(world.county_users[0], ids_of(items), "材料齐全，同意上报")

    assert [item.ok for item in result.items] == [True] * len(items)
    assert [item.id for item in result.items] == ids_of(items)
    assert states(items) == [S.PENDING_CITY_REVIEW] * len(items)
    for checkin in items:
        event = ReviewEvent.objects.get(checkin=checkin, action=A.APPROVE)
        assert (event.actor, event.comment, event.to_state) == (world.county_users[0], "材料齐全，同意上报", S.PENDING_CITY_REVIEW)
    # They wait in the city's queue, counted there: no notification per item (issue 16).
    assert Notification.objects.filter(recipient=world.city_user).count() == before


def test_one_item_someone_else_handled_first_is_refused_with_why_and_the_others_go_through(world, pending):
    items = pending["c1"]
    services.return_checkin(world.county_users[0], items[2], "材料不全")

    result = batch.batch_approve(world.county_users[0], ids_of(items), "")

    refused = result.items[2]
    assert (refused.ok, refused.status, refused.state) == (False, 409, S.RETURNED)
    assert refused.reason == "已被他人处理（当前状态：已退回）。"
    assert [item.ok for item in result.items] == [True, True, False, True, True, True]
    assert CheckIn.objects.get(pk=items[2].pk).state == S.RETURNED
    assert events([items[2]], A.APPROVE) == 0
    assert events(items, A.APPROVE) == len(items) - 1


def test_ids_outside_the_users_scope_are_refused_as_not_found_and_never_touched(world, pending, other_city):
    foreign = services.submit_checkin(other_city.liaison, other_city.assignment, "宿迁的打卡", [f.pdf_upload()])
    mine, theirs = pending["c1"][0], pending["c2"][0]

    result = batch.batch_approve(world.county_users[0], [theirs.pk, mine.pk, foreign.pk, 999999999], "")

    assert [(i.id, i.ok, i.status) for i in result.items] == [
        (theirs.pk, False, 404), (mine.pk, True, 200), (foreign.pk, False, 404), (999999999, False, 404)
    ]
    for item in (result.items[0], result.items[2]):
        assert item.assignee == item.indicator == item.state == "" and item.version is None  # nothing told
        assert CHINESE.search(item.reason)
    assert states([theirs, foreign]) == [S.PENDING_COUNTY_REVIEW, S.PENDING_COUNTY_REVIEW]
    assert events([theirs, foreign], A.APPROVE) == 0


@pytest.mark.parametrize(
    "who, action, allowed",
    [
        ("county", "approve", True),
        ("city", "approve", False),
        ("liaison", "approve", False),
        ("observer", "approve", False),
        ("admin", "approve", False),
        ("city", "return", True),
        ("county", "return", False),
        ("liaison", "return", False),
        ("observer", "return", False),
    ],
)
def test_the_role_matrix(world, pending, who, action, allowed):
    user = {
        "county": world.county_users[0], "city": world.city_user, "liaison": world.liaisons[0],
        "observer": world.observer, "admin": world.admin,
    }[who]
    items = pending["c1"][:2]
    if action == "return":
        for checkin in items:
            services.approve(world.county_users[0], checkin)
    call = batch.batch_approve if action == "approve" else batch.batch_return
    expected = S.PENDING_CITY_REVIEW if action == "return" else S.PENDING_COUNTY_REVIEW
    if allowed:
        result = call(user, ids_of(items), "材料不全，请补充")
        assert all(item.ok for item in result.items)
    else:
        with pytest.raises(PermissionDenied):
            call(user, ids_of(items), "材料不全，请补充")
        assert states(items) == [expected] * 2


@pytest.mark.parametrize(
    "ids, reason",
    [
        ([], "退回"),
        (list(range(1, batch.MAX_BATCH + 2)), "退回"),
        (["abc"], "退回"),
        ([0], "退回"),
        ("12", "退回"),
        (None, "退回"),
        ("ok", "   "),  # a missing reason: the ids are fine
        ("ok", "x" * 2001),
    ],
)
def test_bad_batch_input_is_refused_whole_before_anything_changes(world, pending, ids, reason):
    items = pending["c1"][:2]
    for checkin in items:
        services.approve(world.county_users[0], checkin)
    with pytest.raises(ValidationError) as error:
        batch.batch_return(world.city_user, ids_of(items) if ids == "ok" else ids, reason)
    assert CHINESE.search(" ".join(error.value.messages))
    assert states(items) == [S.PENDING_CITY_REVIEW] * 2
    assert events(items, A.RETURN) == 0


def test_a_repeated_id_is_decided_once_and_listed_once(world, pending):
    checkin = pending["c1"][0]
    result = batch.batch_approve(world.county_users[0], [checkin.pk, checkin.pk, str(checkin.pk)], "")
    assert [(i.id, i.ok) for i in result.items] == [(checkin.pk, True)]
    assert events([checkin], A.APPROVE) == 1


# --- what follows the items: one e-mail job, no ranking job per item ----------------------------
@pytest.mark.django_db(transaction=True)
def test_a_batch_enqueues_one_email_job_and_no_ranking_job_per_item(world, pending, monkeypatch):
    for user in world.city_user, f.city_office(world.city, username="city_b"):
        user.email = f"{user.username}@example.cn"
        user.save(update_fields=["email"])
    enqueued = []
    monkeypatch.setattr(broker, "enqueue", lambda task, args=(), **kw: enqueued.append((task.name, args)) or True)
    monkeypatch.setattr(broker, "enqueue_named", lambda name, args=(), **kw: enqueued.append((name, args)) or True)
    items = pending["c1"]
    requests_before = RecomputeRequest.objects.count()

    batch.batch_approve(world.county_users[0], ids_of(items), "")
    # Approvals tell nobody (the city's queue counts them, issue 16): no e-mail job at all.
    assert [args for name, args in enqueued if name == send_outgoing_emails.name] == []
    batch.batch_return(world.city_user, ids_of(items), "材料不全，请补充")

    email_jobs = [args for name, args in enqueued if name == send_outgoing_emails.name]
    assert len(email_jobs) == 1, enqueued
    assert len(email_jobs[0][0]) == len(items)  # each returned item's submitter
    # Approving or returning changes no points: nothing asks for a ranking; a batch that did
    # would ask once per period.
    assert [name for name, _args in enqueued if name == recompute.RECOMPUTE_RANKINGS] == []
    assert RecomputeRequest.objects.count() == requests_before


@pytest.mark.django_db(transaction=True)
def test_ranking_jobs_asked_for_inside_a_batch_run_once_per_period_at_the_end(world, pending, monkeypatch):
    """The batch wraps its items in recompute.coalesced_recomputes: were each item's service to
    ask for a ranking job (as scores do), the period would still get one job, after the last item."""
    asked = []
    monkeypatch.setattr(broker, "enqueue_named", lambda name, args=(), **kw: asked.append((name, args)) or True)
    original = services.approve

    def approve_that_changes_points(user, checkin, comment=""):
        changed = original(user, checkin, comment)
        from django.db import transaction

        with transaction.atomic():
            recompute.rankings_changed(changed.assignment)
        assert asked == []  # not yet: the batch is still running
        return changed

    monkeypatch.setattr(services, "approve", approve_that_changes_points)
    batch.batch_approve(world.county_users[0], ids_of(pending["c1"]), "")
    assert asked == [(recompute.RECOMPUTE_RANKINGS, (world.period.pk, recompute.SCORE_TRIGGER))]


# --- races (Postgres) ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_batches_decide_each_item_once_without_deadlock(world, pending):
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres row locks")
    from .test_concurrency import race

    items = pending["c1"]
    first = world.county_users[0]
    second = f.county_office(world.counties[0], username="county01_b")
    a = ids_of(items[:4])
    b = list(reversed(ids_of(items[2:])))  # overlaps on items 2 and 3, asked in the other order

    results = race(
        lambda: batch.batch_approve(first, a, "甲"),
        lambda: batch.batch_approve(second, b, "乙"),
        hold=(CheckIn, items[2].pk),
    )

    assert [kind for kind, _value in results] == ["ok", "ok"], results
    outcome = {}
    for _kind, result in results:
        for item in result.items:
            outcome.setdefault(item.id, []).append((item.ok, item.status))
    for pk in (items[2].pk, items[3].pk):
        assert sorted(outcome[pk]) == [(False, 409), (True, 200)], outcome
    assert states(items) == [S.PENDING_CITY_REVIEW] * len(items)
    for checkin in items:
        assert events([checkin], A.APPROVE) == 1


# --- the pages -------------------------------------------------------------------------------
def _token(response):
    found = re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', response.content.decode())
    assert found, "the confirmation carries no idempotency token"
    return found[0]


def test_confirm_shows_how_many_and_which_then_the_result_lists_done_and_refused(client, world, pending):
    items = pending["c1"]
    services.return_checkin(world.county_users[0], items[1], "材料不全")
    client.force_login(world.county_users[0])

    confirm = client.post(reverse("tasks:batch_confirm"), {"ids": ids_of(items[:3]), "action": "approve"})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "3 条打卡将逐条转报市产改办" in page
    for checkin in items[:3]:
        assert reverse("tasks:checkin_detail", args=[checkin.pk]) in page
    assert states(items[:3]) == [S.PENDING_COUNTY_REVIEW, S.RETURNED, S.PENDING_COUNTY_REVIEW]  # nothing yet

    decide = client.post(
        reverse("tasks:batch_decide"),
        {"ids": ids_of(items[:3]), "action": "approve", "text": "同意", "idempotency_key": _token(confirm)},
    )
    assert decide.status_code == 302
    result = client.get(decide.url)
    body = result.content.decode()
    assert result.status_code == 200
    assert "已转报市产改办：2 条。未处理：1 条。" in body
    assert "已被他人处理（当前状态：已退回）。" in body
    refused, done = body.split("batch-result--succeeded")
    assert reverse("tasks:checkin_detail", args=[items[1].pk]) in refused
    for checkin in (items[0], items[2]):
        assert reverse("tasks:checkin_detail", args=[checkin.pk]) in done
    assert states(items[:3]) == [S.PENDING_CITY_REVIEW, S.RETURNED, S.PENDING_CITY_REVIEW]


def test_submitting_the_confirmation_twice_decides_once_and_shows_the_same_result(client, world, pending):
    items = pending["c1"][:2]
    client.force_login(world.county_users[0])
    confirm = client.post(reverse("tasks:batch_confirm"), {"ids": ids_of(items)})
    data = {"ids": ids_of(items), "action": "approve", "text": "", "idempotency_key": _token(confirm)}

    first = client.post(reverse("tasks:batch_decide"), data)
    second = client.post(reverse("tasks:batch_decide"), data)

    assert first.status_code == second.status_code == 302 and first.url == second.url
    assert "已转报市产改办：2 条。未处理：0 条。" in client.get(second.url).content.decode()
    assert events(items, A.APPROVE) == 2
    # The same token with other check-ins is refused, and changes nothing.
    other = client.post(reverse("tasks:batch_decide"), {**data, "ids": ids_of(pending["c1"][2:4])})
    assert other.status_code == 422
    assert states(pending["c1"][2:4]) == [S.PENDING_COUNTY_REVIEW] * 2


def test_a_result_page_is_its_senders_only(client, world, pending):
    client.force_login(world.county_users[0])
    token = uuid.uuid4().hex
    decide = client.post(
        reverse("tasks:batch_decide"), {"ids": ids_of(pending["c1"][:1]), "action": "approve", "idempotency_key": token}
    )
    assert client.get(decide.url).status_code == 200
    for user in (world.county_users[1], world.city_user, world.liaisons[0]):
        client.force_login(user)
        assert client.get(decide.url).status_code == 404
    assert client.get(reverse("tasks:batch_result", args=["0" * 32])).status_code == 404


def test_a_batch_return_without_a_reason_is_a_400_page_with_the_list_and_nothing_changes(client, world, pending):
    items = pending["c1"][:2]
    for checkin in items:
        services.approve(world.county_users[0], checkin)
    client.force_login(world.city_user)
    response = client.post(
        reverse("tasks:batch_decide"),
        {"ids": ids_of(items), "action": "return", "text": "  ", "idempotency_key": uuid.uuid4().hex},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "退回理由" in body and reverse("tasks:checkin_detail", args=[items[0].pk]) in body
    assert states(items) == [S.PENDING_CITY_REVIEW] * 2


def test_confirming_nothing_is_a_400_with_a_chinese_message(client, world, pending):
    client.force_login(world.county_users[0])
    response = client.post(reverse("tasks:batch_confirm"), {"action": "approve"})
    assert response.status_code == 400
    assert "请至少选择一条打卡" in response.content.decode()


def test_roles_that_may_not_batch_get_403_on_every_batch_page(client, world, pending):
    for user, action in ((world.liaisons[0], "approve"), (world.observer, "approve"), (world.city_user, "approve"),
                         (world.county_users[0], "return")):
        client.force_login(user)
        data = {"ids": ids_of(pending["c1"][:1]), "action": action, "text": "理由"}
        assert client.post(reverse("tasks:batch_confirm"), data).status_code == 403
        assert client.post(reverse("tasks:batch_decide"), data).status_code == 403
    assert states(pending["c1"][:1]) == [S.PENDING_COUNTY_REVIEW]


def _hidden_ids(response):
    return [int(v) for v in re.findall(r'<input type="hidden" name="ids" value="(\d+)"', response.content.decode())]


def test_all_that_match_takes_every_waiting_checkin_of_the_queue(client, world, pending):
    client.force_login(world.county_users[0])
    response = client.post(reverse("tasks:batch_confirm"), {"scope": "all", "action": "approve"})
    assert response.status_code == 200
    assert sorted(_hidden_ids(response)) == sorted(ids_of(pending["c1"]))


def test_all_that_match_uses_the_queues_filter(client, world, pending):
    client.force_login(world.county_users[0])
    b02 = [c for c in pending["c1"] if c.assignment.indicator.code == "B02"]
    indicator = b02[0].assignment.indicator
    url = reverse("tasks:batch_confirm") + f"?indicator={indicator.pk}"
    response = client.post(url, {"scope": "all", "action": "approve"})
    assert response.status_code == 200
    assert sorted(_hidden_ids(response)) == sorted(ids_of(b02)) and len(b02) == 2
    # The filter travels on: the confirmation's way back is the filtered queue.
    assert f"indicator={indicator.pk}" in response.content.decode()
    # A bad filter value is a 400 with the queue's message, nothing listed.
    bad = client.post(reverse("tasks:batch_confirm") + "?version=abc", {"scope": "all", "action": "approve"})
    assert bad.status_code == 400 and _hidden_ids(bad) == []


def test_the_queue_offers_checkboxes_in_a_form_that_works_without_script(client, world, pending):
    client.force_login(world.county_users[0])
    page = client.get(reverse("tasks:review_queue")).content.decode()
    assert '<form id="batch-form"' in page
    boxes = [int(v) for v in re.findall(r'name="ids" value="(\d+)" form="batch-form"', page)]
    assert sorted(boxes) == sorted(ids_of(pending["c1"]))
    assert 'name="scope" value="page"' in page and "js/batch-select.js" in page
    # Ticked rows (as a browser without script sends them) reach the confirmation.
    chosen = ids_of(pending["c1"][1:3])
    confirm = client.post(reverse("tasks:batch_confirm"), {"scope": "selected", "action": "approve", "ids": chosen})
    assert _hidden_ids(confirm) == chosen
    # "All on this page": the page's ids.
    page_ids = ids_of(pending["c1"][:4])
    confirm = client.post(reverse("tasks:batch_confirm"), {"scope": "page", "action": "approve", "page_ids": page_ids})
    assert _hidden_ids(confirm) == page_ids


def test_roles_without_a_batch_see_no_checkboxes(client, world, pending):
    services.submit_checkin(world.county_users[0], world.period.assignments.get(
        county=world.counties[0], enterprise__isnull=True), "县区自评", [f.pdf_upload()])
    client.force_login(world.city_user)
    page = client.get(reverse("tasks:review_queue")).content.decode()
    assert 'value="return"' in page  # the city office batches returns
    client.force_login(world.observer)
    assert client.get(reverse("tasks:review_queue")).status_code == 403


# --- the API ---------------------------------------------------------------------------------
URL = "/api/checkins/batch/"


def test_api_batch_answers_per_item_results_in_the_order_asked(world, pending):
    items = pending["c1"][:3]
    services.return_checkin(world.county_users[0], items[0], "材料不全")
    response = api_client(world.county_users[0]).post(
        URL, {"action": "approve", "ids": [items[2].pk, items[0].pk, items[1].pk, pending["c2"][0].pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["action"], body["succeeded"], body["refused"]) == ("approve", 2, 2)
    assert [(i["id"], i["ok"], i["status"]) for i in body["items"]] == [
        (items[2].pk, True, 200), (items[0].pk, False, 409), (items[1].pk, True, 200), (pending["c2"][0].pk, False, 404)
    ]
    assert states(items) == [S.RETURNED, S.PENDING_CITY_REVIEW, S.PENDING_CITY_REVIEW]


def test_api_batch_refuses_the_whole_batch_for_a_role_or_bad_input(world, pending):
    items = pending["c1"][:2]
    assert_error(api_client(world.city_user).post(URL, {"action": "approve", "ids": ids_of(items)}, format="json"), 403)
    assert_error(api_client(world.county_users[0]).post(URL, {"action": "return", "ids": ids_of(items), "reason": "x"},
                                                         format="json"), 403)
    county = api_client(world.county_users[0])
    assert_error(county.post(URL, {"action": "approve", "ids": []}, format="json"), 400, "ids")
    assert_error(county.post(URL, {"action": "approve", "ids": list(range(1, 502))}, format="json"), 400, "ids")
    assert_error(county.post(URL, {"action": "merge", "ids": ids_of(items)}, format="json"), 400, "action")
    for checkin in items:
        services.approve(world.county_users[0], checkin)
    assert_error(api_client(world.city_user).post(URL, {"action": "return", "ids": ids_of(items)}, format="json"),
                 400, "reason")
    assert states(items) == [S.PENDING_CITY_REVIEW] * 2


def test_api_batch_with_an_idempotency_key_replays_the_first_answer(world, pending):
    items = pending["c1"][:2]
    client = api_client(world.county_users[0])
    key = str(uuid.uuid4())
    data = {"action": "approve", "ids": ids_of(items), "comment": "同意"}
    first = client.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = client.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and first.json()["succeeded"] == 2
    assert second.headers["Idempotent-Replayed"] == "true"
    assert events(items, A.APPROVE) == 2
    # Without the key the same request runs again: every item is now refused (409).
    assert client.post(URL, data, format="json").json()["refused"] == 2


@pytest.mark.django_db(transaction=True)
def test_api_two_batches_with_one_key_at_once_decide_once_and_both_get_the_first_answer(world, pending):
    if connection.vendor != "postgresql":
        pytest.skip("needs Postgres locks")
    from .test_concurrency import race

    items = pending["c1"]
    key = str(uuid.uuid4())
    data = {"action": "approve", "ids": ids_of(items)}

    def post():
        return api_client(world.county_users[0]).post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY=key)

    results = race(post, post, hold=(CheckIn, items[0].pk))
    responses = [value for kind, value in results if kind == "ok"]
    assert [r.status_code for r in responses] == [200, 200], results
    assert responses[0].json() == responses[1].json()
    assert responses[0].json()["succeeded"] == len(items)
    assert events(items, A.APPROVE) == len(items)
