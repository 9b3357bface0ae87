"""The import of the city's task library (考核任务指标), keyed by indicator code."""

from django.utils.translation import gettext_lazy as _

from tasks.models import Indicator

from ..resources import IndicatorResource
from .sheets import Column, SheetImport, resource_label


class IndicatorImport(SheetImport):
    """The city's task library keyed by indicator code: importing it again updates it in place."""

    kind = "indicators"
    title = _("Task library")
    label_key = "title"
    MODEL_FIELDS = ("category", "title", "requirement", "evidence_hint", "scoring_guidance", "max_points", "target", "applies_to_sizes", "order", "is_active")

    def __init__(self, user):
        super().__init__(user)
        r = IndicatorResource
        self.columns = (
            Column("code", resource_label(r, "code"), "text", True, 16, example="JN05"),
            Column("category", resource_label(r, "category"), "choice", True, choices=Indicator.Category.choices,
                   example=Indicator.Category.SKILLS.label),
            Column("title", resource_label(r, "title"), "text", True, 200, example="组织职工参加技能大赛并落实获奖人员奖励"),
            Column("requirement", resource_label(r, "requirement"), "text", example="全年至少选派一批职工参加市级以上技能大赛，对获奖人员落实奖励"),
            Column("evidence_hint", resource_label(r, "evidence_hint"), "text", example="参赛通知、获奖名单、奖励发放记录"),
            Column("scoring_guidance", resource_label(r, "scoring_guidance"), "text",
                   example="按活动次数和覆盖面给分，每少一项扣1分"),
            Column("max_points", resource_label(r, "max_points"), "points", True, example=10),
            Column("target", resource_label(r, "target"), "choice", True, choices=Indicator.Target.choices,
                   example=Indicator.Target.ENTERPRISE.label),
            Column("applies_to_sizes", resource_label(r, "applies_to_sizes"), "sizes", example=""),
            Column("order", resource_label(r, "order"), "int", example=1),
            Column("is_active", resource_label(r, "is_active"), "bool", example=_("Yes")),
        )

    def normalised(self, values):
        out = dict(values)
        out["requirement"] = out.get("requirement") or ""
        out["evidence_hint"] = out.get("evidence_hint") or ""
        out["scoring_guidance"] = out.get("scoring_guidance") or ""
        out["applies_to_sizes"] = out.get("applies_to_sizes") or []
        out["order"] = out.get("order") or 0
        out["is_active"] = True if out.get("is_active") is None else out["is_active"]
        return out

    def load_existing(self, results):
        return {i.code: i for i in Indicator.objects.filter(city=self.city)}

    def changes(self, values, indicator):
        return self.field_changes(self.normalised(values), {name: getattr(indicator, name) for name in self.MODEL_FIELDS})

    def write(self, results, existing):
        new, changed = [], []
        for result in results:
            values = self.normalised(result.values)
            fields_ = {n: values[n] for n in self.MODEL_FIELDS}
            if result.action == "create":
                new.append(Indicator(city=self.city, code=result.key, **fields_))
            elif result.action == "update":
                indicator = existing[result.key]
                for name, value in fields_.items():
                    setattr(indicator, name, value)
                changed.append(indicator)
        Indicator.objects.bulk_create(new)
        Indicator.objects.bulk_update(changed, self.MODEL_FIELDS)
