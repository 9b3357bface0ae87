"""`{% idempotency_field %}`: the hidden token that makes a form's second submit a replay."""

import uuid

from django import template
from django.utils.html import format_html

from idempotency.keys import FORM_FIELD

register = template.Library()


@register.simple_tag
def idempotency_field():
    """A fresh key per rendered form: submitting the same page twice sends the same key
    (idempotency.web.idempotent_form answers the second like the first)."""
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_FIELD, uuid.uuid4().hex)
