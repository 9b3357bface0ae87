"""What a staff user's city may write: its regions, its accounts and the profiles binding them.

The write-side twin of `visible_to`: the admin's forms and the spreadsheet imports ask here
before they let an id or an account name through, so a city's office can never reach a row,
an account or a role of another city (or a system administrator's account).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .models import Profile, Region


def city_of(user):
    """The city a user works in (None for superusers without a profile and anonymous users)."""
    profile = Profile.for_user(user)
    return profile.city if profile is not None else None


def regions_of_city(city):
    """The city itself and its county-level units; nothing without a city."""
    if city is None:
        return Region.objects.none()
    return Region.objects.filter(Q(pk=city.pk) | Q(parent_id=city.pk))


def profiles_of_city(city):
    """Profiles whose scope lies in the city: its liaisons, county offices, city office, observers."""
    if city is None:
        return Profile.objects.none()
    return Profile.objects.filter(
        Q(enterprise__county__parent_id=city.pk) | Q(region_id=city.pk) | Q(region__parent_id=city.pk)
    )


def users_in_city(city: Region) -> QuerySet[AbstractBaseUser]:
    """The portal's users who work in `city`: its office, its counties' offices and liaisons,
    and observers of anything in it."""
    return get_user_model().objects.filter(
        Q(profile__region=city)
        | Q(profile__region__parent=city)
        | Q(profile__enterprise__county__parent=city)
    )


def accounts_of_city(city):
    """The accounts a city's office may manage: those with a profile in the city, never a
    superuser. An account without a profile belongs to no city and stays the superuser's."""
    if city is None:
        return get_user_model().objects.none()
    return users_in_city(city).filter(is_superuser=False)


def accounts_managed_by(user) -> QuerySet[AbstractBaseUser]:
    """The accounts `user` creates, resets and disables (accounts.onboarding): the city
    office every account of its city (offices, liaisons, observers; never a superuser's), a
    county office its own county's liaisons, a superuser every account with a portal role.
    Never the user's own: that is the password change page's."""
    User = get_user_model()
    if getattr(user, "is_superuser", False):
        return User.objects.filter(is_superuser=False, profile__isnull=False).exclude(pk=user.pk)
    profile = Profile.for_user(user)
    if profile is None or profile.region_id is None:
        return User.objects.none()
    if profile.is_city_office and profile.city is not None:
        return accounts_of_city(profile.city).exclude(pk=user.pk)
    if profile.is_county_office:
        return User.objects.filter(
            is_superuser=False,
            profile__role=Profile.Role.ENTERPRISE_LIAISON,
            profile__enterprise__county_id=profile.region_id,
        )
    return User.objects.none()


# select_related() of a User queryset that lets check_account() run without a query per account.
ACCOUNT_RELATIONS = tuple(f"profile__{path}" for path in Profile.SCOPE_RELATIONS)


def _account_error(message, code, account):
    return ValidationError(message, code=code, params={"account": account.get_username()})


def check_account(account, *, city):
    """Refuse (ValidationError with a stable code) an existing account the city's office may
    not change: a superuser's (`account_protected`), one without a portal role
    (`account_taken`), or one of another city (`outside_city`)."""
    if account.is_superuser:
        raise _account_error(
            _("Account “%(account)s” is a system administrator's account and cannot be changed here."),
            "account_protected",
            account,
        )
    profile = Profile.for_user(account)  # no query when loaded with ACCOUNT_RELATIONS
    if profile is None:
        raise _account_error(
            _("Account “%(account)s” already exists without a role in the portal; only the system administrator can bind it."),
            "account_taken",
            account,
        )
    if city is None or profile.city is None or profile.city.pk != city.pk:
        raise _account_error(
            _("Account “%(account)s” belongs to another city."), "outside_city", account
        )


def check_profile(profile, *, by):
    """Refuse a profile the user `by` may not write: its scope (enterprise or region) must be
    in by's city and its account one of by's city's accounts. Superusers may write any;
    the role's own rules (a county office's region is a county…) are Profile.clean()."""
    if getattr(by, "is_superuser", False):
        return
    city = city_of(by)
    errors = {}
    scope_city = profile.city if (profile.enterprise_id or profile.region_id) else None
    if city is None or scope_city is None or scope_city.pk != city.pk:
        field = "enterprise" if profile.enterprise_id else "region"
        errors[field] = ValidationError(_("This is not in your city."), code="outside_city")
    if profile.user_id is not None and not accounts_of_city(city).filter(pk=profile.user_id).exists():
        errors["user"] = ValidationError(
            _("This account is not one of your city's accounts."), code="outside_city"
        )
    if errors:
        raise ValidationError(errors)
