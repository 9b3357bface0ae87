"""Ranking updates for changes made outside the check-in workflow.

An enterprise leaving (or rejoining) the reform changes the rankings as much as a score does.
Every path that saves one Enterprise (the admin, django-import-export's admin import) goes
through save(); the spreadsheet import, which bulk-updates, calls
scoring.recompute.enterprises_changed itself.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from enterprises.models import Enterprise

from . import recompute


@receiver(pre_save, sender=Enterprise, dispatch_uid="scoring.signals.remember_is_active")
def remember_is_active(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    instance._is_active_before_save = (
        Enterprise.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    )


@receiver(post_save, sender=Enterprise, dispatch_uid="scoring.signals.rank_on_is_active_change")
def rank_on_is_active_change(sender, instance, created=False, raw=False, **kwargs):
    before = instance.__dict__.pop("_is_active_before_save", None)
    if raw or created or before is None or before == instance.is_active:
        return
    recompute.enterprises_changed([instance.pk])
