"""Input rules that every app's services share: one role check, one free-text check, and
the messages of a refusal as the pages, the API and the imports show them."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from .models import Profile

MAX_COMMENT_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 5000


def profile_or_403(user):
    """The user's profile, or PermissionDenied for a user without a role in the portal."""
    profile = Profile.for_user(user)
    if profile is None:
        raise PermissionDenied(_("Your account has no role in the portal."))
    return profile


def messages_of(error: Exception) -> list[str]:
    """The plain messages of a ValidationError (a PermissionDenied or anything else: its text,
    as one message)."""
    messages = getattr(error, "messages", None)
    return [str(message) for message in messages] if messages else [str(error)]


def show_on_field(form, field, error) -> None:
    """Put a service's ValidationError on the form field it is about (the web views name it, as
    the API's views do for FieldValidationError): the field is then rendered aria-invalid and
    described by its error (includes/field_errors.html). No field, or one the form lacks: the
    error stays in the summary above the form only."""
    if field and field in form.fields and field not in form.errors:
        form.add_error(field, messages_of(error))


def refuse_nul(value, field_label):
    """ValidationError (in Chinese) when `value` holds a NUL character: PostgreSQL cannot
    store one in a text column, so it would otherwise fail at the query (a 500)."""
    if "\x00" in value:
        raise ValidationError(_("%(field)s may not contain NUL characters.") % {"field": field_label})


def clean_text(value, field_label, required, max_length):
    """`value` stripped; ValidationError (in Chinese) when required and empty, too long, or
    holding a NUL character."""
    value = (value or "").strip()
    refuse_nul(value, field_label)
    if required and not value:
        raise ValidationError(_("%(field)s is required.") % {"field": field_label})
    if len(value) > max_length:
        raise ValidationError(
            _("%(field)s may be at most %(max)d characters.") % {"field": field_label, "max": max_length}
        )
    return value
