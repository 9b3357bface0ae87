"""Forms of the account pages (accounts.onboarding does the checks that matter; these
give the pages their fields, choices and first errors)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from enterprises.models import Profile

from . import onboarding


class AccountCreateForm(forms.Form):
    """A new account in the office's scope: the roles and scopes offered are the ones it may give."""

    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(label=_("Role"))
    enterprise = forms.ModelChoiceField(label=_("Enterprise"), queryset=None, required=False, empty_label=_("None"))
    region = forms.ModelChoiceField(label=_("Region"), queryset=None, required=False, empty_label=_("None"))
    person_name = forms.CharField(label=_("Full name"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        roles = onboarding.allowed_roles(actor)
        labels = dict(Profile.Role.choices)
        self.fields["role"].choices = [(role, labels[role]) for role in roles]
        enterprises, regions = onboarding.scope_choices(actor)
        self.fields["enterprise"].queryset = enterprises.select_related("county").order_by("county__order", "name")
        self.fields["region"].queryset = regions.order_by("level", "order", "code")
        self.fields["enterprise"].help_text = _("For an enterprise liaison (or an enterprise's observer).")
        self.fields["region"].help_text = _("For an office: its county or the city; for an observer: what it reads.")
        if roles == [Profile.Role.ENTERPRISE_LIAISON]:
            del self.fields["region"]
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["phone"].widget.attrs.update({"autocomplete": "off", "inputmode": "tel"})


class ContactForm(forms.Form):
    """我的账号: a person's own name, e-mail (for 忘记密码) and phone."""

    person_name = forms.CharField(label=_("Full name"), max_length=32, required=False)
    email = forms.EmailField(
        label=_("E-mail"),
        required=False,
        help_text=_("With an e-mail on file you can set a new password yourself when you forget it."),
    )
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person_name"].widget.attrs["autocomplete"] = "name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})


class AccountFilterForm(forms.Form):
    """The account list's search and filters."""

    STATES = [
        ("", _("All")),
        ("active", _("Active")),
        ("disabled", _("Disabled")),
        ("must_change", _("Must change password")),
        ("locked", _("Locked")),
    ]

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    role = forms.ChoiceField(label=_("Role"), required=False, choices=[("", _("All")), *Profile.Role.choices])
    state = forms.ChoiceField(label=_("State"), required=False, choices=STATES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _("Username, name, e-mail or enterprise")
