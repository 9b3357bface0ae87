"""{% deadline period %}: the submission deadline and what is left of it, in Chinese."""

import datetime

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

pytestmark = pytest.mark.django_db


def render(period, times=1):
    template = Template("{% load checkin_tags %}" + "{% deadline period %}|" * times)
    with translation.override("zh-hans"):
        return template.render(Context({"period": period}))


@pytest.mark.parametrize(
    "offset, closed, css, text",
    [
        (datetime.timedelta(days=30), False, "deadline__left", "剩余 30 天"),
        (datetime.timedelta(days=3), False, "deadline__left deadline__left--soon", "剩余 3 天"),
        (datetime.timedelta(minutes=1), False, "deadline__left deadline__left--soon", None),  # today, or 1 day
        (-datetime.timedelta(hours=1), False, "deadline__left deadline__left--over", "已过截止时间"),
        (datetime.timedelta(days=30), True, "deadline__left deadline__left--over", None),
    ],
)
def test_what_is_left_of_the_deadline(world, offset, closed, css, text):
    period = world.period
    period.submission_deadline = timezone.now() + offset
    period.is_closed = closed
    html = render(period)
    shown = timezone.localtime(period.submission_deadline)
    assert html.startswith('<span class="deadline"><span class="deadline__date">')
    assert f"{shown:%Y}" in html and f'<span class="{css}">' in html
    if text:
        assert text in html


def test_a_closed_period_says_so_and_the_same_period_is_built_once_per_page(world, django_assert_num_queries):
    world.period.is_closed = True
    with django_assert_num_queries(0):
        html = render(world.period, times=20)
    first, *rest = html.split("|")[:-1]
    assert rest == [first] * 19
    with translation.override("zh-hans"):
        assert translation.gettext("Closed") in first


def test_no_period_shows_nothing(db):
    assert render(None) == "|"
