"""Forms of the channel pages: they carry the input; the rules live in notices.publishing,
notices.needs and notices.cases."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from enterprises.inputs import MAX_COMMENT_LENGTH, MAX_DESCRIPTION_LENGTH
from enterprises.models import Enterprise, Region
from tasks.evidence import ALLOWED_LABEL, allowed_extensions
from tasks.forms import MultipleFileField, MultipleFileInput

from .models import MAX_TITLE_LENGTH, Need, Notice


def _accepted_help():
    return gettext("Accepted: %(types)s.") % {"types": ALLOWED_LABEL}


class NoticeForm(forms.Form):
    title = forms.CharField(label=_("Title"), required=False, widget=forms.TextInput(attrs={"maxlength": MAX_TITLE_LENGTH, "required": True}))
    body = forms.CharField(
        label=_("Body"), required=False, widget=forms.Textarea(attrs={"rows": 8, "maxlength": MAX_DESCRIPTION_LENGTH, "required": True})
    )
    audience = forms.ChoiceField(label=_("Audience"), choices=Notice.Audience.choices, required=False)
    # Required when the audience is a county or a size class (publishing checks): the blank is "choose".
    target_county = forms.ModelChoiceField(
        label=_("County-level unit"), queryset=Region.objects.none(), required=False, empty_label=_("Please choose")
    )
    target_size = forms.ChoiceField(
        label=_("Size class"), choices=[("", _("Please choose")), *Enterprise.SizeClass.choices], required=False
    )
    files = MultipleFileField(
        label=_("Attachments (optional)"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": allowed_extensions()}),
    )

    def __init__(self, *args, profile=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = _accepted_help()
        if profile is not None and profile.is_city_office:
            self.fields["target_county"].queryset = Region.objects.filter(
                parent=profile.region, level=Region.Level.COUNTY
            ).order_by("order", "code")
        else:
            # A county office always publishes to its own county: nothing to choose.
            for name in ("audience", "target_county", "target_size"):
                del self.fields[name]


class NeedForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=Need.Category.choices)
    text = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_DESCRIPTION_LENGTH, "required": True}),
    )
    attachment = forms.FileField(
        label=_("Attachment (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": allowed_extensions()}),
    )


    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachment"].help_text = _accepted_help()


class NeedReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"), required=False, widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_COMMENT_LENGTH})
    )


class ExampleCaseForm(forms.Form):
    title = forms.CharField(label=_("Title"), required=False, widget=forms.TextInput(attrs={"maxlength": MAX_TITLE_LENGTH, "required": True}))
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_DESCRIPTION_LENGTH, "required": True}),
        help_text=_("What the enterprise did and why it is worth copying."),
    )
    is_public_evidence = forms.BooleanField(
        label=_("Let every user of the city download the evidence files"), required=False
    )
