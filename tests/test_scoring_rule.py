"""The scoring rule page: the city office changes a period's weights, tie method and
denominator; the change is recorded and the rankings recomputed; bad input changes nothing;
other roles may not open the page."""

import datetime
import re
from decimal import Decimal

import pytest
from django.templatetags.static import static
from django.urls import reverse

from enterprises.models import display_name
from scoring.models import (
    CountyRanking,
    EnterpriseRanking,
    RankingSnapshot,
    RecomputeRequest,
    ScoringRule,
    ScoringRuleChange,
)

from . import factories as f


@pytest.fixture(autouse=True)
def _english(settings):
    """Assert on the English msgids, whatever the zh_Hans catalog says."""
    settings.LANGUAGE_CODE = "en"


def text(html):
    """The page's text: tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace(" :", ":").split()).replace(" :", ":")


def rule_url(period):
    return f"{reverse('scoring:rule')}?period={period.pk}"


def county_scores(snapshot):
    return dict(CountyRanking.objects.filter(snapshot=snapshot).values_list("county__name", "score"))


def test_city_office_sees_the_form_with_the_rule_in_force(client, ranked_world):
    client.force_login(ranked_world.city_user)
    response = client.get(rule_url(ranked_world.period))
    assert response.status_code == 200
    form = response.context["form"]
    assert (form["office_weight"].value(), form["enterprise_weight"].value()) == ("40", "60")
    assert form["tie_method"].value() == "shared" and form["count_unfinished"].value() is True
    html = response.content.decode()
    assert 'type="radio"' in html and 'type="checkbox"' in html
    assert "The rule has not been changed in this period." in html
    # No script of its own: only the header menu's (the page works without JavaScript).
    assert re.findall(r"<script\b[^>]*>", html) == [f'<script src="{static("js/nav.js")}">']


def test_city_office_changes_weights_and_ties_and_the_rankings_follow(
    client, ranked_world, django_capture_on_commit_callbacks
):
    w = ranked_world
    assert county_scores(w.snapshot) == {"鼓楼区": Decimal("68.00"), "云龙区": Decimal("30.00")}
    client.force_login(w.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            rule_url(w.period),
            {"office_weight": "50", "enterprise_weight": "50", "tie_method": "dense", "count_unfinished": "on"},
        )
    assert response.status_code == 302
    assert response["Location"] == rule_url(w.period)

    change = ScoringRuleChange.objects.get()
    assert change.changed_by == w.city_user
    assert change.before == {
        "office_weight": "40.00",
        "enterprise_weight": "60.00",
        "tie_method": "shared",
        "count_unfinished": True,
    }
    assert change.after == {
        "office_weight": "50.00",
        "enterprise_weight": "50.00",
        "tie_method": "dense",
        "count_unfinished": True,
    }

    latest = RankingSnapshot.objects.latest_for(w.period)
    assert latest.pk != w.snapshot.pk
    assert (latest.office_weight, latest.enterprise_weight) == (Decimal("50"), Decimal("50"))
    assert latest.tie_method == "dense"
    # c1 = 50×0.5 + 50×0.8 = 65.00, c2 = 0 + 50×0.5 = 25.00
    assert county_scores(latest) == {"鼓楼区": Decimal("65.00"), "云龙区": Decimal("25.00")}
    ranks = dict(EnterpriseRanking.objects.filter(snapshot=latest).with_ranks().values_list("enterprise_id", "rank_in_city"))
    e11, e12, e21, e22 = w.enterprises
    assert [ranks[e.pk] for e in (e21, e11, e12, e22)] == [1, 2, 2, 3]  # dense: no gap after the tie

    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Scoring rule saved. The rankings are being recomputed." in html
    history = text(html[html.index('id="rule-changes"') : html.index("</table>")])
    assert "County office weight: 40 → 50" in history
    assert "Enterprise weight: 60 → 50" in history
    assert "Enterprise weight" in history and "Dense ranks (1, 2, 2, 3)" in history
    assert "Count unfinished tasks" not in history  # unchanged fields are not listed
    assert display_name(w.city_user) in history

    # The county page explains the new score with the new weights.
    county = client.get(f"{reverse('scoring:county_detail', args=[w.counties[0].pk])}?period={w.period.pk}")
    assert county.context["equation"]["total"] == Decimal("65.00")


def test_change_history_dates_are_in_chinese_format(client, ranked_world):
    w = ranked_world
    rule = ScoringRule.for_period(w.period)
    ScoringRuleChange.objects.create(
        rule=rule,
        changed_by=w.city_user,
        changed_at=datetime.datetime(2026, 11, 24, 1, 30, tzinfo=datetime.UTC),
        before=rule.as_dict(),
        after={**rule.as_dict(), "count_unfinished": False},
    )
    client.force_login(w.city_user)
    html = client.get(rule_url(w.period)).content.decode()
    assert "2026年11月24日 09:30" in html  # Asia/Shanghai
    assert "Count unfinished tasks: Yes → No" in text(html)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"office_weight": "30", "enterprise_weight": "60", "tie_method": "shared"},
            "The two weights must add up to 100.",
        ),
        ({"office_weight": "101", "enterprise_weight": "-1", "tie_method": "shared"}, "must be between 0 and 100."),
        ({"office_weight": "abc", "enterprise_weight": "60", "tie_method": "shared"}, "must be a number."),
        ({"office_weight": "", "enterprise_weight": "100", "tie_method": "shared"}, "must be a number."),
        ({"office_weight": "40", "enterprise_weight": "60", "tie_method": "bogus"}, "Choose how ties are ranked."),
    ],
)
def test_bad_input_is_400_and_changes_nothing(client, ranked_world, data, message, django_capture_on_commit_callbacks):
    w = ranked_world
    client.force_login(w.city_user)
    snapshots = RankingSnapshot.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(rule_url(w.period), {**data, "count_unfinished": "on"})
    assert response.status_code == 400
    assert message in response.content.decode()
    rule = ScoringRule.for_period(w.period)
    assert (rule.office_weight, rule.enterprise_weight, rule.tie_method) == (Decimal("40"), Decimal("60"), "shared")
    assert not ScoringRuleChange.objects.exists()
    assert not RecomputeRequest.objects.exists()
    assert RankingSnapshot.objects.count() == snapshots
    # The form keeps what was typed, so it can be corrected.
    assert response.context["form"]["office_weight"].value() == data["office_weight"]


def test_saving_the_same_values_records_nothing(client, ranked_world):
    w = ranked_world
    client.force_login(w.city_user)
    response = client.post(
        rule_url(w.period),
        {"office_weight": "40.00", "enterprise_weight": "60", "tie_method": "shared", "count_unfinished": "on"},
        follow=True,
    )
    assert response.status_code == 200
    assert "The scoring rule is unchanged." in response.content.decode()
    assert not ScoringRuleChange.objects.exists()


def test_unticking_count_unfinished_changes_the_denominator(client, ranked_world, django_capture_on_commit_callbacks):
    w = ranked_world
    client.force_login(w.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(rule_url(w.period), {"office_weight": "40", "enterprise_weight": "60", "tie_method": "shared"})
    latest = RankingSnapshot.objects.latest_for(w.period)
    assert latest.count_unfinished is False
    # c2: e22 has nothing scored, so only e21 (10 of 10) counts: 60 × 1.0 = 60.00
    assert county_scores(latest)["云龙区"] == Decimal("60.00")


@pytest.mark.parametrize("who", ["county", "liaison", "observer"])
def test_other_roles_may_not_open_or_post_the_rule_page(client, ranked_world, who):
    w = ranked_world
    user = {"county": w.county_users[0], "liaison": w.liaisons[0], "observer": w.observer}[who]
    client.force_login(user)
    assert client.get(rule_url(w.period)).status_code == 403
    data = {"office_weight": "50", "enterprise_weight": "50", "tie_method": "dense"}
    response = client.post(rule_url(w.period), data)
    assert response.status_code == 403
    assert not ScoringRuleChange.objects.exists()


def test_period_of_another_city_is_404(client, ranked_world):
    other = f.PeriodFactory(city=f.RegionFactory.city(parent=ranked_world.province, name="南京市", code="320100"))
    client.force_login(ranked_world.city_user)
    assert client.get(rule_url(other)).status_code == 404
    response = client.post(rule_url(other), {"office_weight": "50", "enterprise_weight": "50", "tie_method": "dense"})
    assert response.status_code == 404
    assert not ScoringRuleChange.objects.exists()


def test_anonymous_user_is_sent_to_login(client, ranked_world):
    response = client.get(rule_url(ranked_world.period))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
