"""Accounts without a superuser: the reform offices create accounts, reset passwords and
disable or re-enable accounts of their scope (enterprises.scoping.accounts_managed_by; the
capability is enterprises.capabilities.may_manage_accounts). Pages, imports, the admin and
any API call these, and each writes its AccountEvent.

A new account or a reset gets a random one-time initial password (`initial_password`): the
owner must change it at the first login (accounts.security.PasswordChangeRequiredMiddleware)
and the API refuses it until then. The passwords are handed to the office once, in an
AccountSheet: encrypted with a key derived from SECRET_KEY, downloadable by the office that
issued it as an .xlsx (enterprise, username, initial password, county office contact) for
ACCOUNT_SHEET_HOURS, and deleted when the office says they are handed out, or expired.
"""

import base64
import io
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import get_hasher, make_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from enterprises import capabilities
from enterprises.inputs import refuse_nul
from enterprises.models import Enterprise, Profile, Region
from enterprises.scoping import accounts_managed_by, regions_of_city

from . import security
from .hashers import InitialPasswordHasher
from .models import AccountEvent, AccountSheet, InitialPassword

log = logging.getLogger(__name__)
User = get_user_model()

# Readable when typed from paper: no 0/O/o, no 1/l/I.
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
PASSWORD_LENGTH = 12


# --- who ----------------------------------------------------------------------------------
def _refuse_unless_manager(actor: AbstractBaseUser) -> Profile | None:
    if actor.is_superuser:
        return None
    profile = Profile.for_user(actor)
    if not capabilities.may_manage_accounts(profile):
        raise PermissionDenied(_("Only the reform offices can manage accounts."))
    return profile


def managed_account(actor: AbstractBaseUser, pk_or_username, *, for_update: bool = False) -> AbstractBaseUser:
    """The account `actor` manages with this pk (int) or username (str), else PermissionDenied
    (not a manager) or ValidationError (none in scope: the same answer as no such account)."""
    _refuse_unless_manager(actor)
    users = accounts_managed_by(actor)
    if for_update:
        users = users.select_for_update(of=("self",))
    if isinstance(pk_or_username, int):
        user = users.filter(pk=pk_or_username).first()
    else:
        username = (pk_or_username or "").strip()
        refuse_nul(username, _("Username"))
        user = users.filter(username=username).first() if username else None
    if user is None:
        raise ValidationError(_("There is no account with this username that you manage."))
    return user


# --- initial passwords --------------------------------------------------------------------
def generate_password(user: AbstractBaseUser | None = None) -> str:
    """A random password that is easy to read from paper and passes AUTH_PASSWORD_VALIDATORS."""
    length = max(PASSWORD_LENGTH, _validator_min_length())
    while True:
        raw = "".join(secrets.choice(PASSWORD_ALPHABET) for _i in range(length))
        try:
            password_validation.validate_password(raw, user)
        except ValidationError:
            continue
        return raw


def _validator_min_length() -> int:
    for validator in password_validation.get_default_password_validators():
        if hasattr(validator, "min_length"):
            return validator.min_length
    return 0


def _hash_initial(raw: str) -> str:
    try:
        hasher = get_hasher(InitialPasswordHasher.algorithm)
    except ValueError:  # a settings module without it (tests' fast hashers): the default one
        hasher = get_hasher()
    return make_password(raw, hasher=hasher)


def _give_initial_password(user: AbstractBaseUser) -> str:
    """Set a new initial password on `user` (saved), mark it one-time; returns it in clear."""
    raw = generate_password(user)
    user.password = _hash_initial(raw)
    # Not set_password(): that is the owner's change, which ends the one-time state
    # (security.end_initial_password). A new password still ends every API token.
    user.save(update_fields=["password"])
    security.revoke_user_tokens(user)
    InitialPassword.objects.update_or_create(user=user, defaults={"issued_at": timezone.now()})
    return raw


# --- the sheet ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SheetRow:
    enterprise: str
    name: str
    username: str
    password: str
    office: str
    office_phone: str


SHEET_COLUMNS = (
    ("enterprise", gettext_lazy("Enterprise or office")),
    ("name", gettext_lazy("Name")),
    ("username", gettext_lazy("Username")),
    ("password", gettext_lazy("Initial password")),
    ("office", gettext_lazy("County reform office")),
    ("office_phone", gettext_lazy("Office phone")),
)


def _fernet() -> Fernet:
    key = salted_hmac("accounts.AccountSheet", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _sheet_row(user: AbstractBaseUser, raw: str) -> SheetRow:
    profile = Profile.objects.select_related(*Profile.SCOPE_RELATIONS).filter(user=user).first()
    office_region = None
    if profile is not None:
        office_region = profile.county or profile.city
    return SheetRow(
        enterprise=profile.scope_label if profile is not None else "",
        name=(profile.display_name if profile is not None else user.get_username()),
        username=user.get_username(),
        password=raw,
        office=office_region.office_name if office_region else "",
        office_phone=office_region.office_phone if office_region else "",
    )


def _store_sheet(actor: AbstractBaseUser, rows: list[SheetRow]) -> AccountSheet:
    payload = json.dumps([row.__dict__ for row in rows], ensure_ascii=False).encode()
    now = timezone.now()
    return AccountSheet.objects.create(
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(hours=settings.ACCOUNT_SHEET_HOURS),
        accounts=len(rows),
        payload=_fernet().encrypt(payload),
    )


def sheets_of(actor: AbstractBaseUser):
    """The account sheets `actor` issued that are still there (not handed out, not expired)."""
    return AccountSheet.objects.filter(created_by=actor, expires_at__gt=timezone.now())


def sheet_rows(sheet: AccountSheet) -> list[SheetRow]:
    """The decrypted rows of a sheet ([] if the key changed since: SECRET_KEY rotated)."""
    try:
        data = _fernet().decrypt(bytes(sheet.payload))
    except InvalidToken:
        log.warning("account sheet %s cannot be decrypted (SECRET_KEY changed?)", sheet.pk)
        return []
    return [SheetRow(**row) for row in json.loads(data)]


def sheet_workbook(sheet: AccountSheet) -> bytes:
    """The sheet as an .xlsx, one account a row, for printing or handing out."""
    workbook = Workbook()
    ws = workbook.active
    ws.title = _("Accounts")
    ws.append([str(label) for _field, label in SHEET_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in sheet_rows(sheet):
        ws.append([getattr(row, field) for field, _label in SHEET_COLUMNS])
    for column, width in zip("ABCDEF", (34, 30, 18, 18, 20, 16), strict=True):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def discard_sheet(actor: AbstractBaseUser, sheet_id) -> int:
    """The office has handed the passwords out: delete its sheet now. Returns 1, or 0 if gone."""
    deleted, _by_model = AccountSheet.objects.filter(pk=sheet_id, created_by=actor).delete()
    return deleted


def delete_expired_sheets() -> int:
    """Delete the sheets past their download window; returns how many (a beat job)."""
    deleted, _by_model = AccountSheet.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# --- the transitions ----------------------------------------------------------------------
def _record(actor, user, action, *, address=None, detail=""):
    return AccountEvent.objects.create(actor=actor, user=user, action=action, address=address, detail=detail[:255])


def _clean_contact(*, person_name: str, email: str, phone: str) -> dict[str, str]:
    values = {
        "person_name": (person_name or "").strip(),
        "email": (email or "").strip(),
        "phone": (phone or "").strip(),
    }
    errors = {}
    for field, label in (("person_name", _("Full name")), ("email", _("E-mail")), ("phone", _("Phone"))):
        try:
            refuse_nul(values[field], label)
        except ValidationError as exc:
            errors[field] = exc
    if len(values["person_name"]) > 32:
        errors["person_name"] = ValidationError(_("A name has at most 32 characters."))
    if len(values["phone"]) > 32:
        errors["phone"] = ValidationError(_("A phone number has at most 32 characters."))
    if values["email"] and "email" not in errors:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = ValidationError(_("Enter a valid e-mail address."))
    if errors:
        raise ValidationError(errors)
    return values


def allowed_roles(actor: AbstractBaseUser) -> list[str]:
    """The roles of the accounts `actor` may create."""
    if actor.is_superuser or capabilities.may_create_office_accounts(Profile.for_user(actor)):
        return [role for role, _label in Profile.Role.choices]
    if capabilities.may_manage_accounts(Profile.for_user(actor)):
        return [Profile.Role.ENTERPRISE_LIAISON]
    return []


def scope_choices(actor: AbstractBaseUser):
    """(enterprises, regions) an account created by `actor` may be bound to."""
    profile = _refuse_unless_manager(actor)
    if profile is None:
        return Enterprise.objects.all(), Region.objects.all()
    if profile.is_county_office:
        return Enterprise.objects.filter(county_id=profile.region_id), Region.objects.none()
    return Enterprise.objects.filter(county__parent_id=profile.city.pk), regions_of_city(profile.city)


@transaction.atomic
def create_account(
    actor: AbstractBaseUser,
    *,
    username: str,
    role: str,
    enterprise: Enterprise | None = None,
    region: Region | None = None,
    person_name: str = "",
    email: str = "",
    phone: str = "",
    address: str | None = None,
) -> AccountSheet:
    """Create an account with a role in `actor`'s scope and a one-time initial password;
    returns the sheet holding it. ValidationError (by field) for bad or out-of-scope input."""
    _refuse_unless_manager(actor)
    username = (username or "").strip()
    contact = _clean_contact(person_name=person_name, email=email, phone=phone)
    errors = {}
    try:
        refuse_nul(username, _("Username"))
        if not username:
            raise ValidationError(_("Enter a username."))
        if len(username) > 150:
            raise ValidationError(_("A username has at most 150 characters."))
        UnicodeUsernameValidator()(username)
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("This username is taken."))
    except ValidationError as exc:
        errors["username"] = exc.messages
    if role not in allowed_roles(actor):
        errors["role"] = [_("You cannot create an account with this role.")]
    enterprises, regions = scope_choices(actor)
    if role == Profile.Role.ENTERPRISE_LIAISON or (role == Profile.Role.OBSERVER and enterprise is not None):
        region = None
        if enterprise is None or not enterprises.filter(pk=enterprise.pk).exists():
            errors["enterprise"] = [_("Choose an enterprise of your area.")]
    elif role:
        enterprise = None
        if region is None or not regions.filter(pk=region.pk).exists():
            errors["region"] = [_("Choose a region of your city.")]
    if errors:
        raise ValidationError(errors)
    user = User(username=username, email=contact["email"])
    user.set_unusable_password()
    user.save()
    profile = Profile(
        user=user,
        role=role,
        enterprise=enterprise,
        region=region,
        person_name=contact["person_name"],
        phone=contact["phone"],
    )
    profile.full_clean(exclude=["user"])
    profile.save()
    raw = _give_initial_password(user)
    _record(actor, user, AccountEvent.Action.CREATED, address=address, detail=profile.get_role_display())
    log.info("%s created the account %s", actor.get_username(), username)
    return _store_sheet(actor, [_sheet_row(user, raw)])


@transaction.atomic
def issue_initial_passwords(
    actor: AbstractBaseUser, users: Iterable[AbstractBaseUser], *, detail: str = "", address: str | None = None
) -> AccountSheet | None:
    """Give accounts just created elsewhere (a spreadsheet import) their initial passwords,
    record their creation, and return the sheet (None for no accounts). Each must be one
    `actor` manages (PermissionDenied otherwise: the caller checked the scope already)."""
    users = list(users)
    if not users:
        return None
    _refuse_unless_manager(actor)
    managed = set(accounts_managed_by(actor).filter(pk__in=[u.pk for u in users]).values_list("pk", flat=True))
    if len(managed) != len({u.pk for u in users}):
        raise PermissionDenied(_("Some of these accounts are not yours to manage."))
    rows = []
    for user in sorted(users, key=lambda u: u.get_username()):
        raw = _give_initial_password(user)
        _record(actor, user, AccountEvent.Action.CREATED, address=address, detail=detail)
        rows.append(_sheet_row(user, raw))
    return _store_sheet(actor, rows)


@transaction.atomic
def reset_password(actor: AbstractBaseUser, user_pk: int, *, address: str | None = None) -> AccountSheet:
    """A new one-time initial password for an account `actor` manages: its API tokens end,
    its lockout is lifted, its sessions end (the password changed). Returns the sheet."""
    user = managed_account(actor, user_pk, for_update=True)
    raw = _give_initial_password(user)
    security.clear_lockout(user.get_username())
    _record(actor, user, AccountEvent.Action.PASSWORD_RESET, address=address)
    log.info("%s reset the password of %s", actor.get_username(), user.get_username())
    return _store_sheet(actor, [_sheet_row(user, raw)])


@transaction.atomic
def disable_account(actor: AbstractBaseUser, user_pk: int, *, address: str | None = None) -> AbstractBaseUser:
    """Disable an account `actor` manages: no login (browser or API), its sessions end at the
    next request, its API tokens now. Nothing is deleted; enable_account() undoes it."""
    user = managed_account(actor, user_pk, for_update=True)
    if not user.is_active:
        raise ValidationError(_("This account is disabled already."))
    user.is_active = False
    user.save(update_fields=["is_active"])
    security.revoke_user_tokens(user)
    _record(actor, user, AccountEvent.Action.DISABLED, address=address)
    log.info("%s disabled the account %s", actor.get_username(), user.get_username())
    return user


@transaction.atomic
def enable_account(actor: AbstractBaseUser, user_pk: int, *, address: str | None = None) -> AbstractBaseUser:
    """Let a disabled account `actor` manages log in again, with its password as it was."""
    user = managed_account(actor, user_pk, for_update=True)
    if user.is_active:
        raise ValidationError(_("This account is active already."))
    user.is_active = True
    user.save(update_fields=["is_active"])
    _record(actor, user, AccountEvent.Action.ENABLED, address=address)
    log.info("%s enabled the account %s", actor.get_username(), user.get_username())
    return user


@transaction.atomic
def update_own_contact(user: AbstractBaseUser, *, person_name: str, email: str, phone: str) -> None:
    """The 我的账号 page: a user's own name, e-mail and phone."""
    contact = _clean_contact(person_name=person_name, email=email, phone=phone)
    user.email = contact["email"]
    user.save(update_fields=["email"])
    Profile.objects.filter(user=user).update(person_name=contact["person_name"], phone=contact["phone"])


def events_visible_to(actor: AbstractBaseUser):
    """The account events of the accounts `actor` manages."""
    return AccountEvent.objects.filter(user__in=accounts_managed_by(actor))


# --- the list -----------------------------------------------------------------------------
def accounts_for_list(actor: AbstractBaseUser, *, q: str = "", role: str = "", state: str = ""):
    """The accounts `actor` manages for the 账号管理 list, each with `must_change` and
    `locked` (a lockout in force), searched by username, name, e-mail or enterprise and
    filtered by role and state; newest first."""
    _refuse_unless_manager(actor)
    since = timezone.now() - (get_cool_off() or timedelta(0))
    lockouts = AccessAttempt.objects.filter(
        username=OuterRef("username"), failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    )
    users = (
        accounts_managed_by(actor)
        .select_related(*(f"profile__{path}" for path in Profile.SCOPE_RELATIONS))
        .annotate(
            must_change=Exists(InitialPassword.objects.filter(user_id=OuterRef("pk"))),
            locked=Exists(lockouts),
        )
        .order_by("-date_joined", "-pk")
    )
    q = (q or "").strip()
    if q:
        users = users.filter(
            Q(username__icontains=q)
            | Q(email__icontains=q)
            | Q(profile__person_name__icontains=q)
            | Q(profile__enterprise__name__icontains=q)
            | Q(profile__region__name__icontains=q)
        )
    if role:
        users = users.filter(profile__role=role)
    if state == "active":
        users = users.filter(is_active=True)
    elif state == "disabled":
        users = users.filter(is_active=False)
    elif state == "must_change":
        users = users.filter(must_change=True)
    elif state == "locked":
        users = users.filter(locked=True)
    return users
