"""The scoring app's write side: changing a period's scoring rule."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from enterprises import capabilities
from enterprises.models import Profile
from tasks.models import Period

from . import recompute
from .models import ScoringRule, ScoringRuleChange, TieMethod


def _weight(value, label, code):
    """A weight 0..100 with two decimals; the error's code names the input (`code`)."""
    try:
        weight = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("%(field)s must be a number.") % {"field": label}, code=code) from None
    if not weight.is_finite() or weight < 0 or weight > 100:
        raise ValidationError(_("%(field)s must be between 0 and 100.") % {"field": label}, code=code)
    if weight != weight.quantize(Decimal("0.01")):
        raise ValidationError(_("%(field)s may have at most two decimal places.") % {"field": label}, code=code)
    return weight.quantize(Decimal("0.01"))


def change_scoring_rule(
    user: AbstractBaseUser,
    period: Period,
    office_weight: str | Decimal,
    enterprise_weight: str | Decimal,
    tie_method: str,
    count_unfinished: bool,
) -> ScoringRule:
    """City office: change a period's scoring rule. The change is recorded (who, when, old,
    new) and the period's rankings are recomputed in full. Returns the rule."""
    profile = Profile.for_user(user)
    if not capabilities.may_change_scoring_rule(profile):
        raise PermissionDenied(_("Only the city reform office can change scoring rules."))
    period = Period.objects.get(pk=period.pk, city=profile.city)
    office = _weight(office_weight, _("County office weight"), "office_weight")
    enterprise = _weight(enterprise_weight, _("Enterprise weight"), "enterprise_weight")
    if office + enterprise != 100:
        raise ValidationError(_("The two weights must add up to 100."))
    if tie_method not in TieMethod.values:
        raise ValidationError(_("Choose how ties are ranked."))
    with transaction.atomic():
        rule = ScoringRule.objects.select_for_update().get(pk=ScoringRule.for_period(period).pk)
        before = rule.as_dict()
        rule.office_weight, rule.enterprise_weight = office, enterprise
        rule.tie_method, rule.count_unfinished = tie_method, bool(count_unfinished)
        after = rule.as_dict()
        if after == before:
            return rule
        rule.save()
        ScoringRuleChange.objects.create(rule=rule, changed_by=user, before=before, after=after)
        recompute.request_recompute(period, trigger="rule")
    return rule
