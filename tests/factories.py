"""factory-boy factories for the portal's models, plus helpers for users of each role.

Typical use:
    county = RegionFactory.county()                 # with a city and province above it
    ent = EnterpriseFactory(county=county)
    user = liaison(ent)                             # a user with an enterprise_liaison profile
    period = PeriodFactory(city=county.parent)      # deadline in the future
    ind = IndicatorFactory(city=period.city)        # enterprise target, 10 points
    a = AssignmentFactory(period=period, indicator=ind, enterprise=ent)
    services.submit_checkin(user, a, "说明", [pdf_upload()])
"""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from enterprises.credit_code import make_code
from enterprises.models import Enterprise, Profile, Region
from tasks.models import Assignment, Indicator, Period

User = get_user_model()

# One hash for every factory user: hashing is deliberately slow.
PASSWORD = "demo12345"

class RegionFactory(factory.django.DjangoModelFactory):
    """A region; use the class helpers province(), city(), county() for a ready-made tree."""

    class Meta:
        model = Region
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"测试区{n}")
    code = factory.Sequence(lambda n: f"9{n:05d}")
    level = Region.Level.COUNTY
    parent = None
    order = factory.Sequence(lambda n: n)

    @classmethod
    def province(cls, **kwargs):
        kwargs.setdefault("name", factory.Sequence(lambda n: f"测试省{n}"))
        return cls(level=Region.Level.PROVINCE, parent=None, **kwargs)

    @classmethod
    def city(cls, parent=None, **kwargs):
        kwargs.setdefault("name", factory.Sequence(lambda n: f"测试市{n}"))
        return cls(level=Region.Level.CITY, parent=parent or cls.province(), **kwargs)

    @classmethod
    def county(cls, parent=None, **kwargs):
        kwargs.setdefault("name", factory.Sequence(lambda n: f"测试县{n}"))
        return cls(level=Region.Level.COUNTY, parent=parent or cls.city(), **kwargs)


def _credit_code(n):
    # 9 (market regulation) 1 (enterprise), division 320300 (徐州市), serial from the sequence.
    return make_code("9", "1", "320300", 10_000_000 + n)


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"徐州测试{n}号制造有限公司")
    credit_code = factory.Sequence(_credit_code)
    county = factory.LazyFunction(RegionFactory.county)
    size_class = Enterprise.SizeClass.MEDIUM
    ownership = Enterprise.Ownership.PRIVATE
    pilot_level = Enterprise.PilotLevel.NONE
    employees = 300
    liaison_name = "张伟"
    liaison_phone = "13800000000"
    is_active = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n:04d}")
    first_name = ""
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.LazyFunction(lambda: _password_hash())
    is_active = True


_HASH = None


def _password_hash():
    global _HASH
    if _HASH is None:
        from django.contrib.auth.hashers import make_password

        _HASH = make_password(PASSWORD)
    return _HASH


class ProfileFactory(factory.django.DjangoModelFactory):
    """A profile; prefer the role helpers below, which keep role and scope consistent."""

    class Meta:
        model = Profile

    user = factory.SubFactory(UserFactory)
    role = Profile.Role.ENTERPRISE_LIAISON
    enterprise = factory.LazyAttribute(
        lambda p: EnterpriseFactory() if p.role == Profile.Role.ENTERPRISE_LIAISON else None
    )
    region = None


def liaison(enterprise=None, **user_kwargs):
    """A user acting as the enterprise's liaison (企业联系人)."""
    enterprise = enterprise or EnterpriseFactory()
    return ProfileFactory(
        user=UserFactory(**user_kwargs), role=Profile.Role.ENTERPRISE_LIAISON, enterprise=enterprise, region=None
    ).user


def county_office(county=None, **user_kwargs):
    """A user of the county's reform office (县区产改办)."""
    county = county or RegionFactory.county()
    return ProfileFactory(
        user=UserFactory(**user_kwargs), role=Profile.Role.COUNTY_OFFICE, enterprise=None, region=county
    ).user


def city_office(city=None, **user_kwargs):
    """A user of the city's reform office (市产改办)."""
    city = city or RegionFactory.city()
    return ProfileFactory(
        user=UserFactory(**user_kwargs), role=Profile.Role.CITY_OFFICE, enterprise=None, region=city
    ).user


def observer(scope, **user_kwargs):
    """A read-only observer (产改观察员) of an enterprise or a region."""
    if isinstance(scope, Enterprise):
        kwargs = {"enterprise": scope, "region": None}
    else:
        kwargs = {"enterprise": None, "region": scope}
    return ProfileFactory(user=UserFactory(**user_kwargs), role=Profile.Role.OBSERVER, **kwargs).user


class PeriodFactory(factory.django.DjangoModelFactory):
    """A period that is open: it started last month and its deadline is 60 days away."""

    class Meta:
        model = Period

    city = factory.LazyFunction(RegionFactory.city)
    name = factory.Sequence(lambda n: f"测试周期{n}")
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=90))
    submission_deadline = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=60))
    is_closed = False


class IndicatorFactory(factory.django.DjangoModelFactory):
    """An enterprise indicator worth 10 points; IndicatorFactory.for_county_office(...) for the other target."""

    class Meta:
        model = Indicator

    city = factory.LazyFunction(RegionFactory.city)
    code = factory.Sequence(lambda n: f"T{n:03d}")
    category = Indicator.Category.SKILLS
    title = factory.Sequence(lambda n: f"开展劳动技能竞赛等技术提升措施（{n}）")
    requirement = "全年至少组织一次劳动技能竞赛，覆盖主要工种。"
    evidence_hint = "竞赛方案、获奖名单、现场照片。"
    max_points = Decimal("10")
    target = Indicator.Target.ENTERPRISE
    applies_to_sizes = factory.LazyFunction(list)
    order = factory.Sequence(lambda n: n)
    is_active = True

    @classmethod
    def for_county_office(cls, **kwargs):
        kwargs.setdefault("title", factory.Sequence(lambda n: f"组织产改观察员开展督查调研（{n}）"))
        kwargs.setdefault("category", Indicator.Category.ORGANISATION)
        return cls(target=Indicator.Target.COUNTY_OFFICE, **kwargs)


class AssignmentFactory(factory.django.DjangoModelFactory):
    """An enterprise's assignment; pass enterprise=None, county=… for a county office's own task.

    The period and indicator default to ones of the enterprise's (or county's) city.
    """

    class Meta:
        model = Assignment

    enterprise = factory.SubFactory(EnterpriseFactory)
    county = factory.LazyAttribute(lambda a: a.enterprise.county if a.enterprise else RegionFactory.county())
    period = factory.LazyAttribute(lambda a: PeriodFactory(city=a.county.parent))
    indicator = factory.LazyAttribute(
        lambda a: IndicatorFactory(
            city=a.period.city,
            target=Indicator.Target.ENTERPRISE if a.enterprise else Indicator.Target.COUNTY_OFFICE,
        )
    )


PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf_upload(name="方案.pdf", content=PDF_BYTES):
    """A small uploaded PDF that passes the evidence checks (magic bytes %PDF-)."""
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def png_upload(name="现场照片.png"):
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\0" * 32, content_type="image/png")


def real_pdf_bytes(pages=1, size=(300, 420)):
    """A valid PDF of `pages` pages (Pillow's PDF writer), which pdfium renders: for previews."""
    import io

    from PIL import Image, ImageDraw

    images = []
    for number in range(pages):
        image = Image.new("RGB", size, (255, 255, 255))
        ImageDraw.Draw(image).rectangle((20, 20 + 10 * number, size[0] - 20, 60 + 10 * number), fill=(178, 34, 34))
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def image_bytes(fmt="JPEG", size=(400, 300), colour=(40, 90, 200), exif=None, mode="RGB"):
    """A valid JPEG or PNG of `size`, optionally with EXIF (e.g. an orientation tag 0x0112)."""
    import io

    from PIL import Image

    image = Image.new(mode, size, colour)
    buffer = io.BytesIO()
    extra = {"exif": exif} if exif is not None else {}
    image.save(buffer, fmt, **extra)
    return buffer.getvalue()
