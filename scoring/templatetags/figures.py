"""The figures' names, definitions and units on the pages (scoring.figures): a column
header that shows its definition on hover, the legend under a table or chart that states
every definition in words (what touch and keyboard users read), and ranks as "n/N"."""

from django import template
from django.utils.html import format_html

from scoring.figures import figure

register = template.Library()


@register.simple_tag
def figure_name(key):
    """The figure's name, plain (for data-label and aria attributes)."""
    return figure(key).name


@register.simple_tag
def figure_term(key):
    """The figure's name as a column header: its definition on hover, the legend below in words."""
    item = figure(key)
    return format_html('<span class="figure-term" title="{}">{}</span>', item.definition, item.name)


@register.inclusion_tag("includes/figure_legend.html")
def figure_legend(*keys, legend_id=""):
    """A definition list of the given figures (name, unit, definition), under a table or chart."""
    return {"figures": [figure(key) for key in keys], "legend_id": legend_id}


@register.filter
def rank_of(rank, total):
    """A rank with the number ranked: 1/105; a dash when there is no rank."""
    if rank in (None, ""):
        return "—"
    if not total:
        return str(rank)
    return f"{rank}/{total}"
