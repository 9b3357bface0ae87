"""Markup repeated on every row of the ranking tables: rank movement and percentages.

Filters rather than {% include %}s: a rankings page shows them ~130 times, and an include
costs a template render each time (5 of the page's 51 ms).
"""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, pgettext

register = template.Library()

SAME = mark_safe('<span class="movement movement--same">–</span>')  # mark_safe on a constant, never on input
NONE = mark_safe('<span class="muted">—</span>')  # mark_safe on a constant, never on input


@register.filter
def movement(value):
    """Places moved since the previous snapshot: ↑2, ↓1, – (same), 新 (not ranked before)."""
    if value is None:
        return format_html('<span class="movement movement--new">{}</span>', pgettext("ranking movement", "New"))
    if value > 0:
        return format_html('<span class="movement movement--up" title="{}">↑{}</span>', gettext("Up"), value)
    if value < 0:
        return format_html('<span class="movement movement--down" title="{}">↓{}</span>', gettext("Down"), -value)
    return SAME


@register.filter
def rate(percent):
    """A percentage with one decimal, or a muted dash when there is none."""
    if percent is None:
        return NONE
    return format_html("{}%", floatformat(percent, 1))
