"""Display helpers for the check-in pages: state badges and deadlines."""

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

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


def _deadline_left(period):
    """(CSS class, text) for how far off the period's submission deadline is."""
    moment = period.submission_deadline
    if period.is_closed:
        return "deadline__left deadline__left--over", gettext("Closed")
    if is_past(moment):
        return "deadline__left deadline__left--over", gettext("Deadline passed")
    days = days_until(moment)
    if days == 0:
        return "deadline__left deadline__left--soon", gettext("Due today")
    text = ngettext("%(days)s day left", "%(days)s days left", days) % {"days": days}
    return "deadline__left deadline__left--soon" if days <= 7 else "deadline__left", text


@register.simple_tag(takes_context=True)
def deadline(context, period):
    """The period's submission deadline and what is left of it, as one <span class="deadline">.

    Built once per period and page (a task list shows the same period on every row; as an
    {% include %} it cost 3.5 of the task list's 24 ms).
    """
    if period is None:
        return ""
    built = context.render_context.setdefault("deadline_tag", {})
    key = (period.pk, period.is_closed, period.submission_deadline)
    if key not in built:
        moment = period.submission_deadline
        shown = date_filter(timezone.localtime(moment), "DATETIME_FORMAT") if moment else ""
        css, text = _deadline_left(period) if moment else ("deadline__left", "")
        built[key] = format_html(
            '<span class="deadline"><span class="deadline__date">{}</span> <span class="{}">{}</span></span>',
            shown, css, text,
        )
    return built[key]
