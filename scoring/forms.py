"""The scoring rule form. It only carries the input: scoring.services.change_scoring_rule
reads and checks the values and raises the messages shown to the user."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import TieMethod

WEIGHT_ATTRS = {"min": "0", "max": "100", "step": "0.01", "inputmode": "decimal", "required": True}


class ScoringRuleForm(forms.Form):
    # CharFields: the service is the one place that parses and checks a weight.
    office_weight = forms.CharField(
        label=_("County office weight"),
        required=False,
        widget=forms.NumberInput(attrs=WEIGHT_ATTRS),
        help_text=_("Multiplies the county office's own score rate."),
    )
    enterprise_weight = forms.CharField(
        label=_("Enterprise weight"),
        required=False,
        widget=forms.NumberInput(attrs=WEIGHT_ATTRS),
        help_text=_("Multiplies the mean score rate of the county's enterprises. The two weights add up to 100."),
    )
    tie_method = forms.ChoiceField(
        label=_("Ties"),
        choices=TieMethod.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    count_unfinished = forms.BooleanField(
        label=_("Count unfinished tasks"),
        required=False,
        help_text=_(
            "When on, a score rate divides by the points of every task; when off, only by the points of scored tasks."
        ),
    )

    @classmethod
    def for_rule(cls, rule):
        """An unbound form showing the rule's current values."""
        return cls(
            initial={
                "office_weight": f"{rule.office_weight.normalize():f}",
                "enterprise_weight": f"{rule.enterprise_weight.normalize():f}",
                "tie_method": rule.tie_method,
                "count_unfinished": rule.count_unfinished,
            }
        )

    def values(self):
        """The submitted values for the service, as given (an invalid tie method as "")."""
        self.is_valid()  # every field is optional here: the service checks the values
        data = self.cleaned_data
        return {
            "office_weight": self.data.get("office_weight", ""),
            "enterprise_weight": self.data.get("enterprise_weight", ""),
            "tie_method": data.get("tie_method", ""),
            "count_unfinished": bool(data.get("count_unfinished")),
        }
