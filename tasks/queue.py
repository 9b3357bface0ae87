"""The review queue's filters and sort orders: one FilterSet that the queue page, the
check-in page (its position in the queue), the review actions (the next item after a
decision) and the batch decisions all read, so "the same filtered queue" means one thing.

Every filter only narrows a queryset already scoped by visible_to(): a county or an
indicator of another city is not a choice (a form error), and no filter reaches past the
user's scope. A bad value is a form error (the page answers 400), never a 500.
"""

from datetime import timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import Profile, Region

from .models import CheckIn, Indicator, ReviewEvent

# The sort orders a queue can take (?sort=), each ending in a unique key so that pages and
# neighbours are stable. "waiting" is the time since the check-in entered this queue
# (updated_at: every transition saves it), longest first.
ORDERINGS = {
    "oldest": ("submitted_at", "pk"),
    "newest": ("-submitted_at", "-pk"),
    "waiting": ("updated_at", "pk"),
    "-waiting": ("-updated_at", "-pk"),
    "enterprise": (
        F("assignment__enterprise__name").asc(nulls_last=True),
        "assignment__county__order",
        "submitted_at",
        "pk",
    ),
    "-enterprise": (
        F("assignment__enterprise__name").desc(nulls_first=True),
        "-assignment__county__order",
        "submitted_at",
        "pk",
    ),
    "indicator": ("assignment__indicator__order", "assignment__indicator__code", "submitted_at", "pk"),
    "-indicator": ("-assignment__indicator__order", "-assignment__indicator__code", "submitted_at", "pk"),
    "version": ("version", "submitted_at", "pk"),
    "-version": ("-version", "submitted_at", "pk"),
}
DEFAULT_SORT = "oldest"

SORT_CHOICES = [
    ("oldest", _("Oldest first")),
    ("newest", _("Newest first")),
    ("waiting", _("Longest waiting first")),
    ("-waiting", _("Shortest waiting first")),
    ("enterprise", _("Assignee A–Z")),
    ("-enterprise", _("Assignee Z–A")),
    ("indicator", _("Indicator order")),
    ("-indicator", _("Indicator order, reversed")),
    ("version", _("Version, lowest first")),
    ("-version", _("Version, highest first")),
]
assert {key for key, _label in SORT_CHOICES} == set(ORDERINGS)

WAITING_CHOICES = [("3", _("More than 3 days")), ("7", _("More than 7 days")), ("14", _("More than 14 days"))]
VERSION_CHOICES = [("1", _("First submission (version 1)")), ("2", _("Resubmission (version 2 or later)"))]
RETURNED_CHOICES = [("yes", _("Returned before")), ("no", _("Never returned"))]
KIND_CHOICES = [("enterprise", _("Enterprise check-ins")), ("office", _("County office check-ins"))]

# The query-string keys of the queue, in the order the canonical querystring lists them.
PARAMS = ("q", "indicator", "category", "version", "waiting", "returned", "county", "kind", "sort")
# Only the city office sees the whole city: these filters are dropped for anyone else.
CITY_ONLY = ("county", "kind")


class QueueFilters(django_filters.FilterSet):
    """The filters of a reviewer's queue. Bind with `QueueFilters(params, queryset=...,
    profile=...)`; `checkins()` answers the filtered, sorted queryset or raises
    ValidationError with the form's messages."""

    q = django_filters.CharFilter(
        label=_("Enterprise name or credit code"),
        method="filter_text",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    indicator = django_filters.ModelChoiceFilter(
        label=_("Indicator"), field_name="assignment__indicator", queryset=Indicator.objects.none()
    )
    category = django_filters.ChoiceFilter(
        label=_("Category"), field_name="assignment__indicator__category", choices=Indicator.Category.choices,
        empty_label=_("All"),
    )
    version = django_filters.ChoiceFilter(label=_("Version"), choices=VERSION_CHOICES, method="filter_version", empty_label=_("All"))
    waiting = django_filters.ChoiceFilter(label=_("Waiting"), choices=WAITING_CHOICES, method="filter_waiting", empty_label=_("All"))
    returned = django_filters.ChoiceFilter(
        label=_("Returned before"), choices=RETURNED_CHOICES, method="filter_returned", empty_label=_("All")
    )
    county = django_filters.ModelChoiceFilter(
        label=_("County-level unit"), field_name="assignment__county", queryset=Region.objects.none()
    )
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=KIND_CHOICES, method="filter_kind", empty_label=_("All"))
    # Applied by checkins() after the filters (an empty value still sorts: oldest first).
    sort = django_filters.ChoiceFilter(label=_("Sort"), choices=SORT_CHOICES, method="keep", empty_label=None)

    class Meta:
        model = CheckIn
        fields = []

    def __init__(self, data=None, *, queryset: QuerySet[CheckIn], profile: Profile, **kwargs):
        super().__init__(_only_queue_params(data), queryset=queryset, **kwargs)
        self.profile = profile
        city = profile.city
        indicators = Indicator.objects.filter(city=city).order_by("order", "code")
        if profile.is_county_office:
            # A county office reviews enterprise check-ins only.
            indicators = indicators.filter(target=Indicator.Target.ENTERPRISE)
        self.filters["indicator"].queryset = indicators
        self.form.fields["indicator"].queryset = indicators
        self.form.fields["indicator"].empty_label = _("All")
        if profile.role == Profile.Role.CITY_OFFICE:
            counties = Region.objects.filter(parent=city, level=Region.Level.COUNTY).order_by("order", "code")
            self.filters["county"].queryset = counties
            self.form.fields["county"].queryset = counties
            self.form.fields["county"].empty_label = _("All")
        else:
            for name in CITY_ONLY:
                del self.filters[name]
                del self.form.fields[name]
        self.form.fields["sort"].required = False

    # -- the filters ---------------------------------------------------------------------

    def filter_text(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(
            Q(assignment__enterprise__name__icontains=text)
            | Q(assignment__enterprise__credit_code__icontains=text)
            # A county office's own check-in is found by its county's name.
            | Q(assignment__enterprise__isnull=True, assignment__county__name__icontains=text)
        )

    def filter_version(self, queryset, name, value):
        return queryset.filter(version=1) if value == "1" else queryset.filter(version__gte=2)

    def filter_waiting(self, queryset, name, value):
        return queryset.filter(updated_at__lte=timezone.now() - timedelta(days=int(value)))

    def filter_returned(self, queryset, name, value):
        returned_before = Exists(
            ReviewEvent.objects.filter(
                checkin__assignment=OuterRef("assignment"),
                checkin__version__lt=OuterRef("version"),
                action=ReviewEvent.Action.RETURN,
            )
        )
        return queryset.filter(returned_before if value == "yes" else ~returned_before)

    def filter_kind(self, queryset, name, value):
        return queryset.filter(assignment__enterprise__isnull=(value == "office"))

    def keep(self, queryset, name, value):
        return queryset

    # -- results -------------------------------------------------------------------------

    @property
    def sort_key(self) -> str:
        return (self.form.cleaned_data.get("sort") if self.is_bound and self.is_valid() else None) or DEFAULT_SORT

    @property
    def active(self) -> bool:
        """Whether any filter (not the sort) narrows the queue."""
        return self.is_valid() and any(
            self.form.cleaned_data.get(name) not in (None, "") for name in self.form.fields if name != "sort"
        )

    def error_messages(self) -> list[str]:
        return [
            f"{self.form.fields[name].label if name in self.form.fields else ''}：{message}"
            for name, messages in self.form.errors.items()
            for message in messages
        ]

    def checkins(self) -> QuerySet[CheckIn]:
        """The filtered queue in its sort order; ValidationError on a bad value."""
        if not self.is_valid():
            raise ValidationError(self.error_messages())
        return self.qs.order_by(*ORDERINGS[self.sort_key])

    def querystring(self) -> str:
        """The canonical querystring of these filters (valid ones only): the filled
        parameters in a fixed order, the sort always included."""
        query = QueryDict(mutable=True)
        if self.is_valid():
            for name in PARAMS:
                if name not in self.form.fields:
                    continue
                value = self.form.cleaned_data.get(name)
                if name == "sort":
                    value = self.sort_key
                if value in (None, ""):
                    continue
                query[name] = str(value.pk) if hasattr(value, "pk") else str(value).strip()
        return query.urlencode()


def _only_queue_params(data) -> QueryDict:
    """The queue's own keys of a request's query (not ?page= or anything else). Always
    bound: no parameters is the whole queue, oldest first."""
    query = QueryDict(mutable=True)
    for name in PARAMS:
        value = data.get(name) if data is not None else None
        if value is not None:
            query[name] = value
    return query
