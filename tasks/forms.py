"""Forms of the check-in pages. They only carry the input: the rules (required reasons,
points range, accepted files) live in tasks.services and tasks.evidence, which raise the
messages shown to the user."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .evidence import ALLOWED_LABEL, allowed_extensions
from .services import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field taking several files at once (Django docs: "Uploading multiple files")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        # An empty file is refused by tasks.evidence, with its name in the message.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_file_clean = super().clean
        if isinstance(data, (list, tuple)):
            result = [single_file_clean(item, initial) for item in data]
        else:
            result = [single_file_clean(data, initial)]
        return [upload for upload in result if upload]


class EvidenceIdsField(forms.Field):
    """The ids of the files a resubmission keeps, as sent (checkboxes named `keep`): the
    service (tasks.services.submit_checkin) decides which ids are valid."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        return [str(item) for item in value or []]


class SubmitCheckInForm(forms.Form):
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "required": True, "maxlength": MAX_DESCRIPTION_LENGTH}),
        help_text=_("What was done, when, and what the attached files show."),
    )
    files = MultipleFileField(
        label=_("Evidence files"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": allowed_extensions(), "required": True}),
    )
    keep = EvidenceIdsField(label=_("Keep this file"), required=False)

    def __init__(self, *args, previous=None, **kwargs):
        """`previous`: the returned version a resubmission starts from (its description, and
        its files, each kept unless unticked), or None."""
        self.previous = previous
        if previous is not None:
            initial = kwargs.setdefault("initial", {})
            initial.setdefault("description", previous.description)
            initial.setdefault("keep", [str(item.pk) for item in previous.evidence.all()])
        super().__init__(*args, **kwargs)
        if self.previous_files():
            # Kept files may be enough: the service asks for at least one file in all.
            self.fields["files"].widget.attrs.pop("required", None)
        self.fields["files"].help_text = _(
            "Accepted: %(types)s. At most %(count)d files, each up to %(size)s."
        ) % {
            "types": ALLOWED_LABEL,
            "count": settings.EVIDENCE_MAX_FILES,
            "size": filesizeformat(settings.EVIDENCE_MAX_FILE_SIZE),
        }

    def previous_files(self):
        """(evidence, kept) for each file of the returned version: kept as sent, or all kept
        when the form is new."""
        if self.previous is None:
            return []
        chosen = set(self["keep"].value() or [])
        return [(item, str(item.pk) in chosen) for item in self.previous.evidence.all()]


def _comment_widget(required=False):
    attrs = {"rows": 3, "maxlength": MAX_COMMENT_LENGTH}
    if required:
        attrs["required"] = True
    return forms.Textarea(attrs=attrs)


class ApproveForm(forms.Form):
    comment = forms.CharField(label=_("Comment (optional)"), required=False, widget=_comment_widget())


class ReturnForm(forms.Form):
    reason = forms.CharField(label=_("Reason for return"), required=False, widget=_comment_widget(required=True))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Reason for reopening"), required=False, widget=_comment_widget(required=True))


class ScoreForm(forms.Form):
    # A CharField: tasks.services.parse_points is the one place that reads and checks points.
    points = forms.CharField(label=_("Points"), required=False)
    comment = forms.CharField(label=_("Comment (optional)"), required=False, widget=_comment_widget())

    def __init__(self, *args, max_points=None, **kwargs):
        super().__init__(*args, **kwargs)
        attrs = {"min": "0", "step": "0.01", "required": True, "inputmode": "decimal"}
        if max_points is not None:
            attrs["max"] = f"{max_points.normalize():f}"
        self.fields["points"].widget = forms.NumberInput(attrs=attrs)
