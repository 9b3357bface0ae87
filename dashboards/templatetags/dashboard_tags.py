"""Display helpers of the dashboards."""

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def days_ago(moment):
    """Whole days since `moment` (0 on the day itself)."""
    if moment is None:
        return None
    return max((timezone.now() - moment).days, 0)


@register.filter
def percent(value):
    """A rate between 0 and 1 (or None) as a percentage with one decimal: 0.4567 → 45.7."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}"
