"""What a POST that changed something answered, under the key its client chose.

A client that sends the same request again with the same key (the API's `Idempotency-Key`
header, a form's hidden token) gets this answer back instead of running the change twice.
The row is written in the same transaction as the change (idempotency.keys), so a change
that committed always has its answer here, even when answering it failed afterwards.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # The request the key was first used with: the same key with another request is refused.
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the method, path and parsed body.")
    # The answer: an API's status and JSON body, or a form's redirect and its message.
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    redirect_to = models.CharField(max_length=2000, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")

    def __str__(self):
        return f"{self.user_id}:{self.key} {self.method} {self.path} → {self.status_code}"
