"""The import of county reform office accounts, each bound to a county of the importer's city."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import onboarding
from enterprises import scoping
from enterprises.models import Profile

from .sheets import Column, RowError, SheetImport, account_error, in_chunks

User = get_user_model()


class CountyOfficeImport(SheetImport):
    """County reform office accounts keyed by account name, each bound to a county of the city."""

    kind = "county_offices"
    title = _("County office accounts")
    label_key = "full_name"

    def __init__(self, user):
        super().__init__(user)
        self.columns = (
            Column("username", _("Account"), "username", True, 150, example="gulou.lina"),
            Column("county", _("County-level unit"), "county", True, example=next(iter(self.counties), "鼓楼区")),
            Column("full_name", _("Contact name"), "text", max_length=150, example="李娜"),
            Column("email", _("Email"), "text", max_length=254, example="gulou.lina@example.com"),
        )

    def load_existing(self, results):
        names = [r.key for r in results if r.key]
        users = {}
        for chunk in in_chunks(names):
            for user in User.objects.filter(username__in=chunk).select_related(*scoping.ACCOUNT_RELATIONS):
                users[user.username] = user
        return users

    def check(self, results, existing):
        column = self.columns[0].header
        for result in results:
            user = existing.get(result.key)
            if user is None:
                continue
            if account_error(result, column, user, self.city):
                continue
            profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
            if profile is not None and not (
                profile.role == Profile.Role.COUNTY_OFFICE and profile.region.parent_id == self.city.pk
            ):
                result.errors.append(
                    RowError(result.row, column, "account_taken",
                             gettext("Account “%(value)s” already belongs to another enterprise or role.") % {"value": result.key})
                )

    def changes(self, values, user):
        profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
        values = {**values, "full_name": values.get("full_name") or "", "email": values.get("email") or ""}
        current = {"county": profile.region if profile is not None else None, "full_name": user.first_name, "email": user.email}
        return self.field_changes(values, current)

    def write(self, results, existing):
        new_users = []
        for result in results:
            if result.action not in ("create", "update"):
                continue
            values = result.values
            user = existing.get(result.key)
            if user is None:
                user = User(username=result.key)
                user.set_unusable_password()  # until onboarding gives it an initial password below
                new_users.append(user)
            user.first_name = values.get("full_name") or ""
            user.email = values.get("email") or ""
            user.save()
            Profile.objects.update_or_create(
                user=user, defaults={"role": Profile.Role.COUNTY_OFFICE, "region": values["county"], "enterprise": None}
            )
        # Each new account's one-time initial password, on the sheet the import result offers.
        self.account_sheet = onboarding.issue_initial_passwords(self.user, new_users, detail=gettext("Spreadsheet import"))
