"""The ranking tables' movement and percentage markup (scoring/templatetags/ranking_tags.py)."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation


def render(source, **context):
    with translation.override("zh-hans"):
        return Template("{% load ranking_tags %}" + source).render(Context(context))


@pytest.mark.parametrize(
    "value, html",
    [
        (2, '<span class="movement movement--up" title="上升">↑2</span>'),
        (-3, '<span class="movement movement--down" title="下降">↓3</span>'),
        (0, '<span class="movement movement--same">–</span>'),
        (None, '<span class="movement movement--new">新</span>'),
    ],
)
def test_movement(value, html):
    assert render("{{ m|movement }}", m=value) == html


@pytest.mark.parametrize(
    "value, html",
    [(Decimal("87.25"), "87.3%"), (Decimal("0"), "0.0%"), (100, "100.0%"), (None, '<span class="muted">—</span>')],
)
def test_rate(value, html):
    assert render("{{ p|rate }}", p=value) == html
