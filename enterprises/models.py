"""Regions, enterprises and the people who act for them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _city_of(user):
    profile = Profile.for_user(user)
    return profile.city if profile is not None else None


class RegionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The user's city and its county-level units; nothing for a user without a city."""
        city = _city_of(user)
        if city is None:
            return self.none()
        return self.filter(Q(pk=city.pk) | Q(parent=city))


class CityQuerySet(models.QuerySet):
    """Rows that belong to one city (its periods, its task library): every user of the city
    reads them, no one else."""

    def visible_to(self, user):
        """The rows of the user's city; nothing for a user without a city."""
        city = _city_of(user)
        if city is None:
            return self.none()
        return self.filter(city=city)


class Region(models.Model):
    """A node of the administrative tree: province → city → county-level unit."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County-level unit")

    name = models.CharField(_("name"), max_length=64)
    code = models.CharField(_("division code"), max_length=12, unique=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent region"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    order = models.PositiveIntegerField(_("display order"), default=0)
    # The reform office of this region (县区产改办 / 市产改办): whom its people call, shown where
    # someone is told to contact the office (a forgotten password, an account sheet).
    office_phone = models.CharField(_("reform office phone"), max_length=32, blank=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent"),
        ]

    def __str__(self):
        return self.name

    @property
    def office_name(self):
        """The name of this region's reform office, as it signs: 徐州市产改办, 邳州市产改办."""
        return _("%(region)s reform office") % {"region": self.name}


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows who may see its rows: the one place scoping is decided.

    Subclasses name the lookup paths from their model to its enterprise ("" when the
    model is the enterprise) and to its county-level unit.
    """

    scope_enterprise = ""
    scope_county = "county"

    def visible_to(self, user):
        """Rows in the user's scope; everything else does not exist for them (404)."""
        profile = Profile.for_user(user)
        if profile is None:
            return self.none()
        return self.filter(profile.scope_q(enterprise=self.scope_enterprise, county=self.scope_county))


class EnterpriseQuerySet(ScopedQuerySet):
    scope_enterprise = ""
    scope_county = "county"


class Enterprise(models.Model):
    """An enterprise taking part in the reform, in exactly one county-level unit."""

    class SizeClass(models.TextChoices):
        LARGE = "large", _("Large")
        MEDIUM = "medium", _("Medium")
        SMALL = "small", _("Small")
        MICRO = "micro", _("Micro")

    class Ownership(models.TextChoices):
        STATE = "state", _("State-owned")
        PRIVATE = "private", _("Private")
        FOREIGN = "foreign", _("Foreign-funded")
        JOINT = "joint", _("Joint venture")
        OTHER = "other", _("Other")

    class PilotLevel(models.TextChoices):
        NATIONAL = "national", _("National pilot")
        PROVINCIAL = "provincial", _("Provincial pilot")
        MUNICIPAL = "municipal", _("Municipal pilot")
        COUNTY = "county", _("County pilot")
        NONE = "none", _("Not a pilot")

    name = models.CharField(_("enterprise name"), max_length=128)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    county = models.ForeignKey(
        Region,
        verbose_name=_("county-level unit"),
        on_delete=models.PROTECT,
        related_name="enterprises",
        limit_choices_to={"level": Region.Level.COUNTY},
    )
    size_class = models.CharField(_("size class"), max_length=16, choices=SizeClass.choices)
    ownership = models.CharField(_("ownership"), max_length=16, choices=Ownership.choices)
    pilot_level = models.CharField(
        _("pilot level"), max_length=16, choices=PilotLevel.choices, default=PilotLevel.NONE
    )
    employees = models.PositiveIntegerField(_("employees"), default=0)
    liaison_name = models.CharField(_("liaison name"), max_length=32, blank=True)
    liaison_phone = models.CharField(_("liaison phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("in the reform"), default=True)

    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["county__order", "name"]

    def __str__(self):
        return self.name


def _profile_loaded_with(user):
    """Whether the user object came with its profile (select_related), even a missing one."""
    descriptor = getattr(user.__class__, "profile", None)  # request.user is a lazy proxy
    return descriptor is not None and descriptor.is_cached(user)


class Profile(models.Model):
    """Who a user acts for: the role and the one enterprise or region in scope."""

    # The scope chain every page needs: the enterprise's county and city, or the region's city.
    SCOPE_RELATIONS = ("enterprise__county__parent", "region__parent")

    class Role(models.TextChoices):
        ENTERPRISE_LIAISON = "enterprise_liaison", _("Enterprise liaison")
        COUNTY_OFFICE = "county_office", _("County reform office")
        CITY_OFFICE = "city_office", _("City reform office")
        OBSERVER = "observer", _("Reform observer")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="profiles",
    )
    region = models.ForeignKey(
        Region,
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="profiles",
        help_text=_("The county for a county office or county observer, the city for a city office."),
    )
    # The person's own name (张三); the enterprise's liaison_name stands in for a liaison
    # account that has none (display_name).
    person_name = models.CharField(_("name"), max_length=32, blank=True)
    # The person's own phone (the e-mail is the account's): where the office reaches them.
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # 大字模式 (issue 20): a display preference that follows the person to every browser, so
    # it lives with the person's other settings here rather than in a model of its own.
    large_text = models.BooleanField(
        _("large text"), default=False, help_text=_("Larger text and more spacing on every page.")
    )

    class Meta:
        verbose_name = _("user profile")
        verbose_name_plural = _("user profiles")
        constraints = [
            models.CheckConstraint(
                name="profile_scope_matches_role",
                condition=(
                    Q(role="enterprise_liaison", enterprise__isnull=False, region__isnull=True)
                    | Q(role__in=["county_office", "city_office"], enterprise__isnull=True, region__isnull=False)
                    | Q(role="observer", enterprise__isnull=False, region__isnull=True)
                    | Q(role="observer", enterprise__isnull=True, region__isnull=False)
                ),
            )
        ]

    def __str__(self):
        return f"{self.user.get_username()} ({self.get_role_display()})"

    # The region level each role's scope must have (observers read a county or a whole city).
    REGION_LEVELS = {
        Role.COUNTY_OFFICE: {Region.Level.COUNTY},
        Role.CITY_OFFICE: {Region.Level.CITY},
        Role.OBSERVER: {Region.Level.COUNTY, Region.Level.CITY},
    }

    def clean(self):
        """The role and its scope agree: a county office is bound to a county-level unit, a
        city office to a city (the check constraint only knows which of the two is set)."""
        super().clean()
        levels = self.REGION_LEVELS.get(self.role)
        if self.region_id is not None and levels is not None and self.region.level not in levels:
            raise ValidationError(
                {"region": ValidationError(_("This region's level does not fit the role."), code="region_level")}
            )

    @classmethod
    def for_user(cls, user):
        """The user's profile, or None for anonymous users and users without a role."""
        if not getattr(user, "is_authenticated", False):
            return None
        # Loaded once per user object with the whole scope chain, which every page needs;
        # the session's user comes with it (enterprises.auth.PortalModelBackend).
        if not hasattr(user, "_portal_profile"):
            if _profile_loaded_with(user):
                user._portal_profile = getattr(user, "profile", None)
            else:
                user._portal_profile = cls.objects.select_related(*cls.SCOPE_RELATIONS).filter(user=user).first()
        return user._portal_profile

    @property
    def is_liaison(self):
        return self.role == self.Role.ENTERPRISE_LIAISON

    @property
    def is_county_office(self):
        return self.role == self.Role.COUNTY_OFFICE

    @property
    def is_city_office(self):
        return self.role == self.Role.CITY_OFFICE

    @property
    def is_observer(self):
        return self.role == self.Role.OBSERVER

    @property
    def county(self):
        """The county-level unit in scope, if the scope is one county or one of its enterprises."""
        if self.enterprise_id:
            return self.enterprise.county
        if self.region and self.region.level == Region.Level.COUNTY:
            return self.region
        return None

    @property
    def city(self):
        """The city the user works in."""
        if self.region and self.region.level == Region.Level.CITY:
            return self.region
        county = self.county
        return county.parent if county else None

    @property
    def display_name(self):
        """How the portal names this person to others, one rule everywhere (review records,
        banners, need threads, notice readers): an office by its name (邳州市产改办), a liaison
        by person and enterprise (张三（徐州云集港口有限公司）), an observer by name and scope."""
        person = self.person
        if self.is_office:
            return person
        scope = self.scope_label
        return _("%(person)s (%(scope)s)") % {"person": person, "scope": scope} if scope else person

    @property
    def person(self):
        """Who acts, without the scope (the banner shows the scope beside it): an office's name,
        else the person's name (a liaison's stands in from the enterprise), else the username."""
        if self.is_office:
            return self.region.office_name
        person = self.person_name or (self.enterprise.liaison_name if self.enterprise_id else "")
        return person or self.user.get_username()

    @property
    def is_office(self):
        return self.role in (self.Role.COUNTY_OFFICE, self.Role.CITY_OFFICE) and self.region_id is not None

    @property
    def scope_label(self):
        if self.enterprise_id:
            return self.enterprise.name
        return self.region.name if self.region else ""

    def scope_q(self, enterprise, county):
        """A Q object selecting rows in this profile's scope.

        `enterprise` and `county` are the lookup paths from the queried model to its
        enterprise and its county-level unit ("" meaning the model itself is the enterprise).
        """
        ent_field = f"{enterprise}__id" if enterprise else "id"
        if self.enterprise_id:
            return Q(**{ent_field: self.enterprise_id})
        if self.region_id is None:
            return Q(pk__in=[])
        if self.region.level == Region.Level.COUNTY:
            return Q(**{f"{county}_id": self.region_id})
        if self.region.level == Region.Level.CITY:
            return Q(**{f"{county}__parent_id": self.region_id})
        return Q(**{f"{county}__parent__parent_id": self.region_id})


# What display_name reads besides the user: loaded with the users of a list, one query for all.
NAME_RELATIONS = ("profile__region", "profile__enterprise")


def with_names(*users: str) -> list[str]:
    """The select_related paths that load what display_name needs for the users at the given
    lookup paths ("actor", "submitted_by"; "" for a queryset of users): one query for a list."""
    return [f"{user}__{relation}" if user else relation for user in users for relation in NAME_RELATIONS]


def display_name(user) -> str:
    """The name of a user as others see it (Profile.display_name), the username for an account
    without a portal role (a superuser), "" for nobody."""
    if user is None:
        return ""
    profile = Profile.for_user(user)
    return profile.display_name if profile is not None else user.get_username()
