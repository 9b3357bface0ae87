"""The review queue's filters, sort orders, counts and positions (tasks/queue.py,
tasks.selectors.review_queue / queue_position), through the page and the selectors."""

import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from enterprises.models import Profile
from tasks import selectors, services
from tasks.models import Assignment, CheckIn, Indicator

from . import factories as f

pytestmark = pytest.mark.django_db

QUEUE = reverse("tasks:review_queue")


def body(response):
    return response.content.decode()


def _age(checkin, days):
    """Pretend the check-in was submitted and entered its queue `days` ago (a few seconds more
    by its pk, so that no two tie; never minutes by pk: after the rest of the suite the pks are
    in the thousands, and 3,187 minutes is more than two days)."""
    when = timezone.now() - datetime.timedelta(days=days, seconds=checkin.pk % 50)
    CheckIn.objects.filter(pk=checkin.pk).update(submitted_at=when, updated_at=when)
    checkin.refresh_from_db()
    return checkin


@pytest.fixture
def queue_world(world, assignment_of):
    """County 1 (鼓楼区) has four check-ins waiting, county 2 (云龙区) one:

    c1: a  云集 B01 v1, 10 days     b  恒达 B01 v2 (v1 returned), 2 days
        c  云集 A01 v1, 5 days      d  恒达 A01 v1, 0 days
    c2: e  华瑞 B01 v1, 20 days
    A01 is a second enterprise indicator, category political."""
    ind2 = f.IndicatorFactory(
        city=world.city, code="A01", title="开展思想政治引领活动", category=Indicator.Category.POLITICAL, order=0
    )
    services.generate_assignments(world.period)
    yunji, hengda, huarui = world.enterprises[0], world.enterprises[1], world.enterprises[2]
    l_yunji, l_hengda, l_huarui = world.liaisons[0], world.liaisons[1], world.liaisons[2]

    def submit(liaison, assignment):
        return services.submit_checkin(liaison, assignment, "说明", [f.pdf_upload()])

    a = _age(submit(l_yunji, assignment_of(yunji)), 10)
    b1 = submit(l_hengda, assignment_of(hengda))
    services.return_checkin(world.county_users[0], b1, "缺少材料")
    b = _age(submit(l_hengda, assignment_of(hengda)), 2)
    c = _age(submit(l_yunji, assignment_of(yunji, ind2)), 5)
    d = _age(submit(l_hengda, assignment_of(hengda, ind2)), 0)
    e = _age(submit(l_huarui, assignment_of(huarui)), 20)
    world.ind2 = ind2
    world.q = dict(a=a, b=b, c=c, d=d, e=e)
    return world


def pks(queryset):
    return list(queryset.values_list("pk", flat=True))


def queue_of(user, params=None):
    return pks(selectors.review_queue(user, Profile.for_user(user), params))


def ids(w, *names):
    return [w.q[name].pk for name in names]


# ---------------------------------------------------------------------------------------
# Filters


def test_without_filters_the_county_queue_is_its_own_items_oldest_first(queue_world):
    w = queue_world
    assert queue_of(w.county_users[0]) == ids(w, "a", "c", "b", "d")
    assert queue_of(w.county_users[1]) == ids(w, "e")


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"q": "云集"}, ["a", "c"]),
        ({"q": "  恒达 "}, ["b", "d"]),
        ({"indicator": "A01"}, ["c", "d"]),
        ({"category": "political"}, ["c", "d"]),
        ({"category": "skills"}, ["a", "b"]),
        ({"version": "1"}, ["a", "c", "d"]),
        ({"version": "2"}, ["b"]),
        ({"waiting": "3"}, ["a", "c"]),
        ({"waiting": "7"}, ["a"]),
        ({"waiting": "14"}, []),
        ({"returned": "yes"}, ["b"]),
        ({"returned": "no"}, ["a", "c", "d"]),
        ({"q": "云集", "category": "skills"}, ["a"]),
        ({"q": "华瑞"}, []),  # another county's enterprise: never through a filter
    ],
)
def test_each_filter_narrows_the_county_queue(queue_world, params, expected):
    w = queue_world
    params = dict(params)
    if params.get("indicator") == "A01":
        params["indicator"] = str(w.ind2.pk)
    assert queue_of(w.county_users[0], params) == ids(w, *expected)


def test_the_text_filter_finds_a_credit_code_by_part(queue_world):
    w = queue_world
    code = w.enterprises[1].credit_code
    assert queue_of(w.county_users[0], {"q": code[-10:].lower()}) == ids(w, "b", "d")


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("oldest", ["a", "c", "b", "d"]),
        ("newest", ["d", "b", "c", "a"]),
        ("waiting", ["a", "c", "b", "d"]),
        ("-waiting", ["d", "b", "c", "a"]),
        ("indicator", ["c", "d", "a", "b"]),  # A01 (order 0) before B01, then oldest first
        ("version", ["a", "c", "d", "b"]),
        ("-version", ["b", "a", "c", "d"]),
    ],
)
def test_each_sort_order(queue_world, sort, expected):
    w = queue_world
    assert queue_of(w.county_users[0], {"sort": sort}) == ids(w, *expected)


def test_sorting_by_enterprise_groups_each_enterprises_items(queue_world):
    w = queue_world
    order = queue_of(w.county_users[0], {"sort": "enterprise"})
    names = [CheckIn.objects.get(pk=pk).assignment.enterprise.name for pk in order]
    assert names == sorted(names)
    assert queue_of(w.county_users[0], {"sort": "-enterprise"}) != order


def test_waiting_counts_from_the_forwarding_for_the_city(queue_world):
    """In the city's queue an item waits from the county's approval, not from its submission."""
    w = queue_world
    old = w.q["e"]  # submitted 20 days ago, approved just now
    services.approve(w.county_users[1], old)
    assert queue_of(w.city_user, {"waiting": "3"}) == []
    assert queue_of(w.city_user) == [old.pk]


def test_the_city_filters_by_county_and_kind(queue_world, assignment_of):
    w = queue_world
    services.approve(w.county_users[0], w.q["a"])
    services.approve(w.county_users[1], w.q["e"])
    office = services.submit_checkin(
        w.county_users[0], assignment_of(w.counties[0]), "县区自查", [f.pdf_upload()]
    )
    city = w.city_user
    assert set(queue_of(city)) == {w.q["a"].pk, w.q["e"].pk, office.pk}
    assert set(queue_of(city, {"county": str(w.counties[0].pk)})) == {w.q["a"].pk, office.pk}
    assert queue_of(city, {"county": str(w.counties[1].pk)}) == [w.q["e"].pk]
    assert queue_of(city, {"kind": "office"}) == [office.pk]
    assert set(queue_of(city, {"kind": "enterprise"})) == {w.q["a"].pk, w.q["e"].pk}
    assert queue_of(city, {"q": "鼓楼"}) == [office.pk]  # an office's item by its county's name


def test_a_county_office_cannot_widen_its_queue_with_the_city_filters(queue_world):
    w = queue_world
    c1 = w.county_users[0]
    assert queue_of(c1, {"county": str(w.counties[1].pk)}) == ids(w, "a", "c", "b", "d")
    assert queue_of(c1, {"kind": "office"}) == ids(w, "a", "c", "b", "d")


def test_a_second_city_sees_none_of_the_first_through_any_filter(queue_world, other_city):
    w = queue_world
    services.approve(w.county_users[0], w.q["a"])
    sq_city = other_city.city_user
    assert queue_of(sq_city) == []
    for params in ({"q": "云集"}, {"sort": "newest"}, {"kind": "enterprise"}, {"version": "1"}):
        assert queue_of(sq_city, params) == []
    # Another city's county or indicator is not a choice at all.
    for params in ({"county": str(w.counties[0].pk)}, {"indicator": str(w.ind.pk)}):
        with pytest.raises(ValidationError):
            queue_of(sq_city, params)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "pk"},
        {"sort": "assignment__enterprise__credit_code"},
        {"waiting": "5"},
        {"version": "3"},
        {"returned": "maybe"},
        {"category": "other"},
        {"indicator": "abc"},
        {"indicator": "99999999999999999999"},
        {"q": "企" * 101},
        {"q": "a\x00b"},
    ],
)
def test_bad_values_are_a_400_with_a_chinese_message(client, queue_world, params):
    w = queue_world
    client.force_login(w.county_users[0])
    response = client.get(QUEUE, params)
    assert response.status_code == 400
    text = body(response)
    assert 'class="alert alert--error"' in text
    assert any("\u4e00" <= char <= "\u9fff" for char in text.split('class="alert alert--error"')[1][:400])
    assert "/tasks/checkins/" not in text


def test_an_indicator_for_county_offices_is_not_a_choice_for_a_county_office(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    assert client.get(QUEUE, {"indicator": w.office_ind.pk}).status_code == 400


def test_unknown_parameters_are_ignored(client, queue_world):
    client.force_login(queue_world.county_users[0])
    assert client.get(QUEUE, {"utm": "x", "page": "abc"}).status_code == 200


# ---------------------------------------------------------------------------------------
# The page


def test_the_page_shows_the_count_before_and_after_the_filter(client, queue_world):
    client.force_login(queue_world.county_users[0])
    assert "共 4 条待审核。" in body(client.get(QUEUE))
    assert "共 4 条待审核，筛选后 2 条。" in body(client.get(QUEUE, {"q": "云集"}))
    empty = body(client.get(QUEUE, {"q": "不存在的企业"}))
    assert "共 4 条待审核，筛选后 0 条。" in empty
    assert "该筛选下已没有待审核的打卡" in empty


def test_each_row_carries_the_filter_to_the_check_in(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    text = body(client.get(QUEUE, {"q": "云集", "sort": "newest", "page": "1"}))
    links = [part.split('"')[0] for part in text.split('href="/tasks/checkins/')[1:]]
    assert len(links) == 2
    for link in links:
        carried = parse_qs(urlsplit("/x/" + link).query)["queue"][0]
        assert parse_qs(carried) == {"q": ["云集"], "sort": ["newest"]}


def test_sortable_headers_say_their_order_and_keep_the_filter(client, queue_world):
    client.force_login(queue_world.county_users[0])
    text = body(client.get(QUEUE, {"q": "云集", "sort": "newest"}))
    assert 'aria-sort="descending"><a class="sort-link" href="?q=%E4%BA%91%E9%9B%86&amp;sort=oldest"' in text
    assert text.count('aria-sort="none"') == 4
    table = body(client.get(QUEUE))
    assert 'class="table table--cards' in table
    # Every cell of the card list has its label.
    rows = table.split("data-queue-table")[1].split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<td") == rows.count("data-label=")


def test_pagination_keeps_the_filter(client, world, assignment_of):
    for _ in range(51):
        f.IndicatorFactory(city=world.city, category=Indicator.Category.RIGHTS)
    services.generate_assignments(world.period)
    for assignment in Assignment.objects.filter(enterprise=world.enterprises[0]):
        services.submit_checkin(world.liaisons[0], assignment, "说明", [f.pdf_upload()])
    client.force_login(world.county_users[0])
    first = body(client.get(QUEUE, {"category": "rights"}))
    assert first.count('href="/tasks/checkins/') == 50
    assert "category=rights&amp;page=2" in first
    second = body(client.get(QUEUE, {"category": "rights", "page": 2}))
    assert second.count('href="/tasks/checkins/') == 1


def _fill(world, count, assignment_of):
    for _ in range(count):
        indicator = f.IndicatorFactory(city=world.city)
        services.generate_assignments(world.period)
        services.submit_checkin(
            world.liaisons[0], assignment_of(world.enterprises[0], indicator), "说明", [f.pdf_upload()]
        )


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "云集", "returned": "no", "version": "1", "waiting": "", "sort": "enterprise"}],
    ids=["no filter", "every filter"],
)
def test_the_queue_runs_the_same_queries_for_2_and_20_rows(
    client, world, assignment_of, django_assert_max_num_queries, params
):
    client.force_login(world.county_users[0])
    _fill(world, 2, assignment_of)
    with django_assert_max_num_queries(12) as small:
        assert client.get(QUEUE, params).status_code == 200
    _fill(world, 18, assignment_of)
    with django_assert_max_num_queries(12) as large:
        response = client.get(QUEUE, params)
    assert body(response).count('href="/tasks/checkins/') == 20
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_selector_reads_the_page_in_one_query_and_one_count(queue_world, django_assert_num_queries):
    w = queue_world
    user = w.county_users[0]
    profile = Profile.for_user(user)
    profile.city  # noqa: B018  (the profile's city is read once per request, before the queue)
    queryset = selectors.review_queue(user, profile, {"q": "云集"})
    with django_assert_num_queries(2):
        assert queryset.count() == 2
        rows = list(queryset[:50])
        for checkin in rows:
            # what a row shows, without a query per row
            str(checkin.assignment.assignee_name), checkin.assignment.indicator.title, checkin.evidence_count


# ---------------------------------------------------------------------------------------
# Position and neighbours


def test_neighbours_follow_the_filtered_order(queue_world):
    w = queue_world
    user = w.county_users[0]
    profile = Profile.for_user(user)
    params = {"sort": "newest"}  # d, b, c, a
    assert selectors.queue_neighbours(user, profile, params, w.q["b"]) == (w.q["d"], w.q["c"])
    assert selectors.queue_neighbours(user, profile, params, w.q["d"]) == (None, w.q["b"])
    assert selectors.queue_neighbours(user, profile, params, w.q["a"]) == (w.q["c"], None)
    position = selectors.queue_position(user, profile, {"q": "云集"}, w.q["c"])
    assert (position.number, position.total, position.previous, position.next) == (2, 2, w.q["a"], None)


def test_a_check_in_outside_the_filter_has_no_position(queue_world):
    w = queue_world
    user = w.county_users[0]
    position = selectors.queue_position(user, Profile.for_user(user), {"q": "恒达"}, w.q["a"])
    assert position.number is None and position.total == 2


def test_the_canonical_querystring_drops_empty_and_unknown_values(queue_world):
    w = queue_world
    user = w.county_users[0]
    request = RequestFactory().get("/", {"waiting": "", "q": " 云集 ", "page": "3", "x": "y"})
    assert selectors.queue_querystring(user, Profile.for_user(user), request.GET) == (
        "q=%E4%BA%91%E9%9B%86&sort=oldest"
    )
    with pytest.raises(ValidationError):
        selectors.queue_querystring(user, Profile.for_user(user), {"sort": "bogus"})


# ---------------------------------------------------------------------------------------
# The check-in page in the queue, and landing on the next item after a decision


def _detail(checkin, querystring):
    return reverse("tasks:checkin_detail", args=[checkin.pk]) + "?" + urlencode({"queue": querystring})


def test_the_check_in_page_knows_its_position_and_neighbours(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    text = body(client.get(_detail(w.q["b"], "sort=newest")))  # d, b, c, a
    assert "第 2 / 4 条" in text
    assert f'data-queue-prev href="{_detail(w.q["d"], "sort=newest")}"' in text.replace("&amp;", "&")
    assert f'data-queue-next href="{_detail(w.q["c"], "sort=newest")}"' in text.replace("&amp;", "&")
    # Every action form posts the filter back.
    assert text.count('<input type="hidden" name="queue" value="sort=newest">') == 2
    assert 'id="approve-form"' in text and 'id="return_reason"' in text
    # Opened without the queue: no position, no hidden field.
    plain = body(client.get(reverse("tasks:checkin_detail", args=[w.q["b"].pk])))
    assert "第 2 / 4 条" not in plain and 'name="queue"' not in plain


def test_a_bad_carried_filter_only_loses_the_position(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    response = client.get(_detail(w.q["b"], "sort=bogus"))
    assert response.status_code == 200
    assert 'name="queue"' not in body(response)


@pytest.mark.parametrize(
    "action, data",
    [("tasks:approve", {"comment": "同意"}), ("tasks:return_checkin", {"reason": "请补充材料"})],
    ids=["approve", "return"],
)
def test_after_a_decision_the_county_lands_on_the_next_item_of_the_filter(client, queue_world, action, data):
    w = queue_world
    client.force_login(w.county_users[0])
    querystring = "q=%E6%81%92%E8%BE%BE&sort=oldest"  # 恒达: b (2 days), d (0 days)
    response = client.post(reverse(action, args=[w.q["b"].pk]), {**data, "queue": querystring})
    assert response.status_code == 302
    assert response.url == _detail(w.q["d"], querystring)
    # The next item's page keeps the filter and its new position.
    assert "第 1 / 1 条" in body(client.get(response.url))
    # The last one of the filter: back to the filtered queue, with the note.
    response = client.post(reverse(action, args=[w.q["d"].pk]), {**data, "queue": querystring})
    assert response.url == reverse("tasks:review_queue") + "?" + querystring
    page = body(client.get(response.url))
    assert "该筛选下已没有待审核的打卡" in page
    assert "共 2 条待审核，筛选后 0 条。" in page


def test_the_next_item_is_what_followed_not_the_top_of_the_queue(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    # Oldest first: a, c, b, d. Deciding c (the second) lands on b, not on a.
    response = client.post(reverse("tasks:approve", args=[w.q["c"].pk]), {"queue": "sort=oldest"})
    assert response.url == _detail(w.q["b"], "sort=oldest")
    # Deciding the last one (d) wraps to what is still waiting before it.
    response = client.post(reverse("tasks:approve", args=[w.q["d"].pk]), {"queue": "sort=oldest"})
    assert response.url == _detail(w.q["a"], "sort=oldest")


def test_after_scoring_the_city_lands_on_the_next_item(client, queue_world):
    w = queue_world
    for name in ("a", "c", "b"):
        services.approve(w.county_users[0], w.q[name])
    client.force_login(w.city_user)
    first = client.get(_detail(w.q["a"], "sort=oldest"))
    text = body(first)
    assert "第 1 / 3 条" in text
    assert 'id="score_points"' in text
    response = client.post(reverse("tasks:score", args=[w.q["a"].pk]), {"points": "8.5", "queue": "sort=oldest"})
    assert response.status_code == 302
    assert response.url == _detail(w.q["c"], "sort=oldest")  # submitted after a, before b
    w.q["a"].refresh_from_db()
    assert w.q["a"].state == "scored"


def test_a_failed_decision_keeps_the_filter_and_changes_nothing(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    response = client.post(reverse("tasks:return_checkin", args=[w.q["b"].pk]), {"reason": "", "queue": "q=x"})
    assert response.status_code == 400
    assert '<input type="hidden" name="queue" value="q=x&amp;sort=oldest">' in body(response)
    # A bad carried filter is refused before anything changes.
    response = client.post(reverse("tasks:approve", args=[w.q["b"].pk]), {"queue": "sort=bogus"})
    assert response.status_code == 400
    w.q["b"].refresh_from_db()
    assert w.q["b"].state == "pending_county_review"


def test_a_repeated_form_lands_where_the_first_did(client, queue_world):
    w = queue_world
    client.force_login(w.county_users[0])
    page = body(client.get(_detail(w.q["c"], "sort=oldest")))
    token = page.split('name="idempotency_key" value="')[1].split('"')[0]
    data = {"queue": "sort=oldest", "idempotency_key": token}
    first = client.post(reverse("tasks:approve", args=[w.q["c"].pk]), data)
    second = client.post(reverse("tasks:approve", args=[w.q["c"].pk]), data)
    assert first.url == second.url == _detail(w.q["b"], "sort=oldest")


# ---------------------------------------------------------------------------------------
# The scoring form


def test_the_scoring_form_shows_the_guidance_and_the_county_comment(client, queue_world):
    w = queue_world
    Indicator.objects.filter(pk=w.ind.pk).update(scoring_guidance="组织1次竞赛得5分，覆盖主要工种得满分。")
    services.approve(w.county_users[0], w.q["a"], "材料齐全，建议满分")
    client.force_login(w.city_user)
    text = body(client.get(reverse("tasks:checkin_detail", args=[w.q["a"].pk])))
    assert "组织1次竞赛得5分，覆盖主要工种得满分。" in text
    assert "材料齐全，建议满分" in text
    assert 'data-points="10"' in text and 'data-points="5"' in text


def test_half_points_never_have_more_than_two_decimals():
    from decimal import Decimal

    assert services.half_points(Decimal("10")) == Decimal("5.00")
    assert services.half_points(Decimal("0.05")) == Decimal("0.02")
    assert services.parse_points(str(services.half_points(Decimal("7.25"))), Decimal("7.25")) == Decimal("3.62")
