"""Display helpers for the check-in pages: state badges and deadlines."""

from django import template
from django.utils import timezone

from tasks.models import AssignmentState

register = template.Library()


@register.inclusion_tag("includes/state_badge.html")
def state_badge(value):
    """A coloured badge for an assignment's or check-in's state, or for a bare state value."""
    if hasattr(value, "get_state_display"):
        state, label = value.state, value.get_state_display()
    else:
        state = value or ""
        label = AssignmentState(state).label if state in AssignmentState.values else state
    return {"state": state, "label": label}


@register.filter
def days_until(moment):
    """Whole calendar days from today (local time) to `moment`; negative once it has passed."""
    if moment is None:
        return None
    return (timezone.localdate(moment) - timezone.localdate()).days


@register.filter
def is_past(moment):
    return moment is not None and moment < timezone.now()


@register.filter
def points(value):
    """Points without trailing zeros: 10, 8.5, 7.25."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
