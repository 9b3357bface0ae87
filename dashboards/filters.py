"""Search and filters of the dashboards' drill-down lists (django-filter FilterSets).

The querysets they filter are already scoped (visible_to); the county choices are limited
to the user's counties, so a county outside the scope is simply not a valid choice.
"""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise, Region
from tasks.models import AssignmentState, Indicator

from . import selectors


class ScopedCountyFilterSet(django_filters.FilterSet):
    """A FilterSet whose `county` choices are the counties given by the view."""

    def __init__(self, *args, counties=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["county"].queryset = counties if counties is not None else Region.objects.none()


class AssignmentFilter(ScopedCountyFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    county = django_filters.ModelChoiceFilter(queryset=Region.objects.none(), label=_("County-level unit"))
    size = django_filters.ChoiceFilter(
        field_name="enterprise__size_class", choices=Enterprise.SizeClass.choices, label=_("Size class")
    )
    ownership = django_filters.ChoiceFilter(
        field_name="enterprise__ownership", choices=Enterprise.Ownership.choices, label=_("Ownership")
    )
    pilot = django_filters.ChoiceFilter(
        field_name="enterprise__pilot_level", choices=Enterprise.PilotLevel.choices, label=_("Pilot level")
    )
    state = django_filters.ChoiceFilter(choices=AssignmentState.choices, label=_("State"))
    category = django_filters.ChoiceFilter(
        field_name="indicator__category", choices=Indicator.Category.choices, label=_("Category")
    )
    indicator = django_filters.NumberFilter(field_name="indicator_id", widget=forms.HiddenInput)
    assignee = django_filters.ChoiceFilter(
        method="by_assignee",
        choices=[("enterprise", _("Enterprises")), ("office", _("County reform offices"))],
        label=_("Assignee"),
    )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(enterprise__name__icontains=value)
            | Q(enterprise__credit_code__iexact=value)
            | Q(indicator__title__icontains=value)
            | Q(indicator__code__iexact=value)
        )

    def by_assignee(self, queryset, name, value):
        if value == "enterprise":
            return queryset.filter(enterprise__isnull=False)
        if value == "office":
            return queryset.filter(enterprise__isnull=True)
        return queryset


class EnterpriseFilter(ScopedCountyFilterSet):
    PROGRESS = [  # the keys of dashboards.selectors.PROGRESS
        ("not_started", _("Not started")),
        ("started", _("Started")),
        ("completed", _("All tasks scored")),
    ]

    q = django_filters.CharFilter(method="search", label=_("Search"))
    county = django_filters.ModelChoiceFilter(queryset=Region.objects.none(), label=_("County-level unit"))
    size = django_filters.ChoiceFilter(field_name="size_class", choices=Enterprise.SizeClass.choices, label=_("Size class"))
    ownership = django_filters.ChoiceFilter(choices=Enterprise.Ownership.choices, label=_("Ownership"))
    pilot = django_filters.ChoiceFilter(
        field_name="pilot_level", choices=Enterprise.PilotLevel.choices, label=_("Pilot level")
    )
    progress = django_filters.ChoiceFilter(method="by_progress", choices=PROGRESS, label=_("Progress"))

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(credit_code__iexact=value))

    def __init__(self, *args, period=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.period, self.user = period, user

    def by_progress(self, queryset, name, value):
        if value not in selectors.PROGRESS:
            return queryset
        return queryset.filter(pk__in=selectors.enterprises_in_progress(self.user, self.period, value))
