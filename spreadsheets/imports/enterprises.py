"""The import of the city's enterprises, keyed by unified social credit code; the liaison
account of each is created or linked, and a new county moves the enterprise (tasks.moves)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import onboarding
from enterprises import scoping
from enterprises.inputs import messages_of
from enterprises.models import Enterprise, Profile
from scoring import recompute
from tasks import moves, services

from ..resources import EnterpriseResource
from .sheets import Change, Column, RowError, SheetImport, account_error, in_chunks, resource_label

User = get_user_model()


class EnterpriseImport(SheetImport):
    """Enterprises keyed by their unified social credit code; the liaison account is created or linked."""

    kind = "enterprises"
    title = _("Enterprises")
    label_key = "name"
    MODEL_FIELDS = (
        "name", "county", "size_class", "ownership", "pilot_level", "employees", "liaison_name", "liaison_phone", "is_active"
    )

    def __init__(self, user):
        super().__init__(user)
        r = EnterpriseResource
        self.columns = (
            Column("credit_code", resource_label(r, "credit_code"), "credit_code", True, 18, example=""),
            Column("name", resource_label(r, "name"), "text", True, 128, example="徐州示例机械制造有限公司"),
            Column("county", resource_label(r, "county"), "county", True, example=next(iter(self.counties), "鼓楼区")),
            Column("size_class", resource_label(r, "size_class"), "choice", True, choices=Enterprise.SizeClass.choices,
                   example=Enterprise.SizeClass.LARGE.label),
            Column("ownership", resource_label(r, "ownership"), "choice", True, choices=Enterprise.Ownership.choices,
                   example=Enterprise.Ownership.PRIVATE.label),
            Column("pilot_level", resource_label(r, "pilot_level"), "choice", choices=Enterprise.PilotLevel.choices,
                   example=Enterprise.PilotLevel.MUNICIPAL.label),
            Column("employees", resource_label(r, "employees"), "int", example=320),
            Column("liaison_name", resource_label(r, "liaison_name"), "text", max_length=32, example="张伟"),
            Column("liaison_phone", resource_label(r, "liaison_phone"), "phone", max_length=32, example="13800000000"),
            Column("liaison_account", resource_label(r, "liaison_account"), "username", max_length=150, example="xzsl0001"),
            Column("is_active", resource_label(r, "is_active"), "bool", example=_("Yes")),
        )

    def normalised(self, values):
        out = dict(values)
        out["pilot_level"] = out.get("pilot_level") or Enterprise.PilotLevel.NONE
        out["employees"] = out.get("employees") or 0
        out["liaison_name"] = out.get("liaison_name") or ""
        out["liaison_phone"] = out.get("liaison_phone") or ""
        out["is_active"] = True if out.get("is_active") is None else out["is_active"]
        return out

    def load_existing(self, results):
        codes = [r.key for r in results if r.key]
        existing = {}
        for chunk in in_chunks(codes):
            for enterprise in Enterprise.objects.filter(credit_code__in=chunk).select_related("county"):
                existing[enterprise.credit_code] = enterprise
        # An enterprise of another city is never updated (nor moved into this one): check() refuses it.
        self.foreign = {code for code, e in existing.items() if e.county.parent_id != self.city.pk}
        ids = [e.pk for code, e in existing.items() if code not in self.foreign]
        accounts = [r.values.get("liaison_account") for r in results if r.values.get("liaison_account")]
        self.users = {}
        for chunk in in_chunks(accounts):
            for user in User.objects.filter(username__in=chunk).select_related(*scoping.ACCOUNT_RELATIONS):
                self.users[user.username] = user
        # The current liaison account of each existing enterprise (for "unchanged").
        self.accounts = {}
        for chunk in in_chunks(ids):
            rows = Profile.objects.filter(enterprise_id__in=chunk, role=Profile.Role.ENTERPRISE_LIAISON).values_list(
                "enterprise_id", "user__username"
            )
            for enterprise_id, username in rows:
                self.accounts.setdefault(enterprise_id, set()).add(username)
        return existing

    def _moves_county(self, result, existing):
        enterprise = existing.get(result.key)
        county = result.values.get("county")
        return enterprise is not None and county is not None and enterprise.county_id != county.pk

    def check(self, results, existing):
        code_column = self.key_column().header
        for result in results:
            if result.key in self.foreign:
                result.errors.append(
                    RowError(result.row, code_column, "outside_city",
                             gettext("The enterprise with credit code “%(value)s” belongs to another city.")
                             % {"value": result.key})
                )
        county_column = next(c for c in self.columns if c.key == "county").header
        for result in results:
            if result.errors or not self._moves_county(result, existing):
                continue
            # A new county moves the enterprise with its open tasks: the move's own rules.
            try:
                moves.check_move(self.user, existing[result.key], result.values["county"])
            except (PermissionDenied, ValidationError, ObjectDoesNotExist) as error:
                message = " ".join(messages_of(error))
                result.errors.append(RowError(result.row, county_column, "move_refused", message))
        first = {}
        for result in results:
            account = result.values.get("liaison_account")
            if not account:
                continue
            column = next(c for c in self.columns if c.key == "liaison_account").header
            if account in first:
                result.errors.append(
                    RowError(result.row, column, "duplicate_in_sheet",
                             gettext("“%(value)s” already appears in row %(row)s of this sheet.")
                             % {"value": account, "row": first[account]})
                )
                continue
            first[account] = result.row
            user = self.users.get(account)
            if user is None:
                continue
            if account_error(result, column, user, self.city):
                continue
            profile = getattr(user, "profile", None) if hasattr(user, "profile") else None
            target = existing.get(result.key)
            linked_here = (
                profile is not None
                and profile.role == Profile.Role.ENTERPRISE_LIAISON
                and target is not None
                and profile.enterprise_id == target.pk
            )
            if profile is not None and not linked_here:
                result.errors.append(
                    RowError(result.row, column, "account_taken",
                             gettext("Account “%(value)s” already belongs to another enterprise or role.") % {"value": account})
                )

    def changes(self, values, enterprise):
        values = self.normalised(values)
        current = {name: enterprise.county if name == "county" else getattr(enterprise, name) for name in self.MODEL_FIELDS}
        out = self.field_changes(values, current)
        account = values.get("liaison_account")
        accounts = self.accounts.get(enterprise.pk, set())
        if account and account not in accounts:
            out.append(Change(self.column("liaison_account").header, "、".join(sorted(accounts)), account))
        return out

    def write(self, results, existing):
        """Returns how many check-in tasks the new and rejoining enterprises were given."""
        new, changed, left_or_rejoined, rejoined = [], [], [], []
        for result in results:
            values = self.normalised(result.values)
            if result.action == "create":
                enterprise = Enterprise(credit_code=result.key, **{n: values[n] for n in self.MODEL_FIELDS})
                new.append(enterprise)
                existing[result.key] = enterprise
            elif result.action == "update":
                enterprise = existing[result.key]
                if self._moves_county(result, existing):
                    moves.move_enterprise(self.user, enterprise, values["county"], str(moves.IMPORT_REASON))
                if enterprise.is_active != values["is_active"]:
                    left_or_rejoined.append(enterprise.pk)
                    if values["is_active"]:
                        rejoined.append(enterprise.pk)
                for name in self.MODEL_FIELDS:
                    setattr(enterprise, name, values[name])
                changed.append(enterprise)
        Enterprise.objects.bulk_create(new, batch_size=1000)
        Enterprise.objects.bulk_update(changed, self.MODEL_FIELDS, batch_size=1000)
        # Their tasks of every open period, in this transaction (before the ranking request,
        # which looks at the tasks they have).
        tasks_created = services.assign_enterprises([e.pk for e in new] + rejoined)
        if left_or_rejoined:
            recompute.enterprises_changed(left_or_rejoined)  # bulk_update sends no signals
        # Liaison accounts: create the missing users, then the missing profiles.
        wanted = {}
        for result in results:
            account = result.values.get("liaison_account")
            if account and result.action in ("create", "update"):
                wanted[account] = (existing[result.key], result.values.get("liaison_name") or "")
        new_users = [User(username=name, first_name=person[:150]) for name, (_e, person) in wanted.items() if name not in self.users]
        for user in new_users:
            user.set_unusable_password()  # until onboarding gives each an initial password below
        User.objects.bulk_create(new_users, batch_size=1000)
        new_names = {user.username for user in new_users}
        for user in new_users:
            self.users[user.username] = user
        profiles = [
            Profile(user=self.users[name], role=Profile.Role.ENTERPRISE_LIAISON, enterprise=enterprise)
            for name, (enterprise, _person) in wanted.items()
            # New users have no profile; check() refused existing accounts bound elsewhere.
            if name in new_names or not hasattr(self.users[name], "profile")
        ]
        Profile.objects.bulk_create(profiles, batch_size=1000)
        # Each new account's one-time initial password, on the sheet the import result offers.
        self.account_sheet = onboarding.issue_initial_passwords(self.user, new_users, detail=gettext("Spreadsheet import"))
        return tasks_created
