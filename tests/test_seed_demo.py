"""`manage.py seed_demo`: the demo city, its accounts and progress; deterministic and idempotent."""

import logging
from decimal import Decimal
from io import StringIO

import pypdfium2
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from demo.management.commands.seed_demo import demo_enterprises
from enterprises import capabilities
from enterprises.credit_code import is_valid
from enterprises.models import Enterprise, Profile, Region
from scoring.models import RankingSnapshot
from tasks import previews
from tasks.models import Assignment, CheckIn, Evidence, Indicator, Period, ReviewEvent

User = get_user_model()

COUNTY_CODES = [
    ("鼓楼区", "320302"),
    ("云龙区", "320303"),
    ("贾汪区", "320305"),
    ("泉山区", "320311"),
    ("铜山区", "320312"),
    ("丰县", "320321"),
    ("沛县", "320322"),
    ("睢宁县", "320324"),
    ("新沂市", "320381"),
    ("邳州市", "320382"),
    ("徐州经济技术开发区", "320371"),
]


def seed(**options):
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def table_counts():
    models = [Region, Enterprise, User, Profile, Indicator, Period, Assignment, CheckIn, Evidence, ReviewEvent, RankingSnapshot]
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def seeded(db):
    """A smaller demo city (120 enterprises) is enough for most checks and much faster."""
    return seed(enterprises=120)


def test_seed_builds_xuzhou_with_its_eleven_county_level_units_in_order(seeded):
    city = Region.objects.get(code="320300")
    assert city.name == "徐州市" and city.parent.name == "江苏省"
    counties = list(Region.objects.filter(parent=city).order_by("order"))
    assert [(c.name, c.code) for c in counties] == COUNTY_CODES
    assert all(c.level == Region.Level.COUNTY for c in counties)


def test_by_default_seed_creates_767_enterprises_each_with_a_liaison_account(db):
    output = seed()
    enterprises = Enterprise.objects.all()
    assert enterprises.count() == 767
    assert all(is_valid(code) for code in enterprises.values_list("credit_code", flat=True))
    assert len(set(enterprises.values_list("name", flat=True))) == 767
    assert Profile.objects.filter(role=Profile.Role.ENTERPRISE_LIAISON).count() == 767
    assert User.objects.get(username="ent0767").profile.enterprise.is_active
    assert "ent0767" in output


def test_seed_creates_valid_enterprises_of_every_size(seeded):
    enterprises = Enterprise.objects.all()
    assert enterprises.count() == 120
    assert all(is_valid(code) for code in enterprises.values_list("credit_code", flat=True))
    assert len(set(enterprises.values_list("name", flat=True))) == 120
    assert enterprises.filter(name="徐州云集港口有限公司").exists()
    sizes = {s: enterprises.filter(size_class=s).count() for s in Enterprise.SizeClass.values}
    assert 0 < sizes["large"] < sizes["medium"] < sizes["small"]
    assert sizes["micro"] > sizes["large"]
    assert enterprises.filter(employees=0).count() == 0
    assert enterprises.exclude(pilot_level="none").exists()
    # Every county has enterprises.
    assert Region.objects.filter(level="county", enterprises__isnull=True).count() == 0


def test_seed_creates_the_demo_accounts_with_one_password(seeded):
    city = User.objects.get(username="city")
    assert city.is_staff and not city.is_superuser
    assert city.profile.role == Profile.Role.CITY_OFFICE and city.profile.region.code == "320300"
    assert city.groups.get().name == "市产改办"
    assert city.has_perm("tasks.change_indicator") and city.has_perm("enterprises.add_enterprise")
    assert city.has_perm("scoring.view_rankingsnapshot")
    for i, (name, _code) in enumerate(COUNTY_CODES, start=1):
        profile = User.objects.get(username=f"county{i:02d}").profile
        assert (profile.role, profile.region.name) == (Profile.Role.COUNTY_OFFICE, name)
    liaisons = Profile.objects.filter(role=Profile.Role.ENTERPRISE_LIAISON)
    assert liaisons.count() == 120
    assert User.objects.get(username="ent0001").profile.enterprise.name == "徐州云集港口有限公司"
    assert User.objects.get(username="ent0120").profile.enterprise_id
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    # One hash for everyone (hashing each password would be slow); it is the demo password.
    assert User.objects.values("password").distinct().count() == 1
    assert admin.check_password("demo12345")
    assert "ent0001" in seeded and "county11" in seeded and "demo12345" in seeded


def test_seed_creates_the_task_library_period_and_assignments(seeded):
    city = Region.objects.get(code="320300")
    period = Period.objects.get(city=city, name="2026年度")
    assert str(period.starts_on) == "2026-01-01" and str(period.ends_on) == "2026-12-31"
    assert period.submission_deadline.isoformat() == "2026-12-31T15:59:00+00:00"  # 23:59 Asia/Shanghai

    enterprise_indicators = Indicator.objects.filter(city=city, target=Indicator.Target.ENTERPRISE)
    office_indicators = Indicator.objects.filter(city=city, target=Indicator.Target.COUNTY_OFFICE)
    assert 15 <= enterprise_indicators.count() <= 22
    assert 3 <= office_indicators.count() <= 4
    assert set(enterprise_indicators.values_list("category", flat=True)) == set(Indicator.Category.values)
    total = sum(enterprise_indicators.values_list("max_points", flat=True))
    assert Decimal("95") <= total <= Decimal("105")
    assert all(Decimal("5") <= p <= Decimal("15") for p in Indicator.objects.values_list("max_points", flat=True))
    assert enterprise_indicators.filter(title="开展劳动技能竞赛等技术提升措施", max_points=10).exists()

    assignments = Assignment.objects.filter(period=period)
    assert assignments.filter(enterprise__isnull=True).count() == 11 * office_indicators.count()
    expected = sum(
        1 for e in Enterprise.objects.all() for i in enterprise_indicators if i.applies_to(e)
    )
    assert assignments.filter(enterprise__isnull=False).count() == expected


def test_seed_pushes_some_checkins_through_every_step_of_the_workflow(seeded):
    period = Period.objects.get(name="2026年度")
    states = set(CheckIn.objects.values_list("state", flat=True))
    assert states == {"pending_county_review", "pending_city_review", "returned", "scored"}
    assert ReviewEvent.objects.filter(action="return").exclude(comment="").exists()
    assert CheckIn.objects.filter(version=2).exists()  # resubmitted after a return
    # Each check-in has a real PDF and a photo, so that the demo shows previews.
    assert Evidence.objects.count() == 2 * CheckIn.objects.count()
    assert set(Evidence.objects.values_list("content_type", flat=True)) == {"application/pdf", "image/jpeg"}
    pdf = Evidence.objects.filter(content_type="application/pdf").first()
    with pdf.file.open("rb") as handle:
        content = handle.read()
    page_count, images = previews.render(pdf.content_type, content)
    assert page_count == 1 and len(images) == 2
    # A real document: Chinese text a reader can select, not a picture of grey bars.
    document = pypdfium2.PdfDocument(content)
    text = document[0].get_textpage().get_text_range()
    assert "产业工人队伍建设改革" in text and "责任部门" in text
    photo = Evidence.objects.filter(content_type="image/jpeg").first()
    with photo.file.open("rb") as handle, Image.open(handle) as image:
        assert image.format == "JPEG" and image.size[0] >= 800
    assert CheckIn.objects.filter(assignment__enterprise__isnull=True).exists()  # county offices too
    progressed = Assignment.objects.filter(period=period, enterprise__isnull=False).exclude(state="not_submitted")
    share = progressed.values("enterprise").distinct().count() / 120
    assert 0.10 <= share <= 0.20
    # ent0001 shows every state.
    first = Assignment.objects.filter(enterprise__name="徐州云集港口有限公司")
    assert set(first.values_list("state", flat=True)) == {
        "not_submitted", "pending_county_review", "pending_city_review", "returned", "scored"
    }
    # One snapshot for the whole seed, showing the awarded points.
    snapshot = RankingSnapshot.objects.get(period=period)
    assert snapshot.enterprise_rankings.filter(points__gt=0).exists()
    assert snapshot.county_rankings.count() == 11


def test_running_seed_again_changes_nothing(db):
    seed(enterprises=40)
    before = table_counts()
    rows = list(Enterprise.objects.order_by("credit_code").values())
    states = list(Assignment.objects.order_by("pk").values_list("state", "points"))
    seed(enterprises=40)
    assert table_counts() == before
    assert list(Enterprise.objects.order_by("credit_code").values()) == rows
    assert list(Assignment.objects.order_by("pk").values_list("state", "points")) == states


def test_a_bigger_seed_extends_a_smaller_one(db):
    seed(enterprises=20)
    first = set(Enterprise.objects.values_list("credit_code", "name"))
    seed(enterprises=30)
    assert Enterprise.objects.count() == 30
    assert first < set(Enterprise.objects.values_list("credit_code", "name"))
    assert User.objects.filter(username__startswith="ent").count() == 30
    assert Profile.objects.filter(role="enterprise_liaison").count() == 30


def test_the_generated_enterprises_are_deterministic():
    assert list(demo_enterprises(50, 2026)) == list(demo_enterprises(50, 2026))
    assert list(demo_enterprises(50, 2026))[:20] == list(demo_enterprises(20, 2026))
    assert list(demo_enterprises(20, 2026)) != list(demo_enterprises(20, 7))


def test_seed_without_progress_leaves_every_assignment_not_submitted(db):
    seed(enterprises=10, no_progress=True)
    assert not CheckIn.objects.exists()
    assert RankingSnapshot.objects.count() == 1


def test_seed_names_the_people_and_gives_the_offices_phones(seeded):
    ent = User.objects.get(username="ent0001").profile
    assert ent.person_name == ent.enterprise.liaison_name and ent.display_name == f"{ent.person_name}（徐州云集港口有限公司）"
    offices = Profile.objects.filter(role__in=[Profile.Role.CITY_OFFICE, Profile.Role.COUNTY_OFFICE])
    assert offices.count() == 12 and not offices.filter(person_name="").exists()
    assert all(2 <= len(name) <= 3 for name in offices.values_list("person_name", flat=True))
    assert User.objects.get(username="county10").profile.display_name == "邳州市产改办"
    phones = list(Region.objects.filter(level__in=["city", "county"]).values_list("office_phone", flat=True))
    assert len(phones) == 12 and len(set(phones)) == 12
    assert all(phone.startswith("0516-8") and len(phone) == 13 for phone in phones)


def test_the_demo_observer_reads_the_whole_city_and_may_do_nothing(seeded, client):
    observer = User.objects.get(username="observer")
    profile = observer.profile
    assert (profile.role, profile.region.code) == (Profile.Role.OBSERVER, "320300")
    assert "observer" in seeded and "产改观察员" in seeded
    assert observer.check_password("demo12345") and not observer.is_staff
    assert not any(
        check(profile)
        for check in (
            capabilities.may_export,
            capabilities.may_import,
            capabilities.may_publish_notices,
            capabilities.may_report_needs,
            capabilities.may_curate_cases,
            capabilities.may_unlock_accounts,
            capabilities.may_change_scoring_rule,
            capabilities.may_move_enterprises,
        )
    )
    client.force_login(observer)
    pending = CheckIn.objects.filter(state="pending_county_review").first()
    page = client.get(reverse("tasks:checkin_detail", args=[pending.pk]))
    assert page.status_code == 200 and reverse("tasks:approve", args=[pending.pk]) not in page.content.decode()
    assert client.post(reverse("tasks:approve", args=[pending.pk]), {"comment": "x"}).status_code in (403, 404)
    pending.refresh_from_db()
    assert pending.state == "pending_county_review"


def test_the_first_seed_counts_its_jobs_in_one_line_instead_of_a_line_each(transactional_db, caplog):
    # Committed for real (transactional_db): the jobs run when the seed commits, as in `make run`.
    with caplog.at_level(logging.INFO):
        output = seed(enterprises=60)
    job_lines = [r for r in caplog.records if r.name.startswith("celery") and r.levelno < logging.WARNING]
    assert job_lines == []
    assert CheckIn.objects.count() > 20  # jobs ran: previews and notifications of the check-ins
    summary = [line for line in output.splitlines() if "background jobs run:" in line]
    assert len(summary) == 1 and "make_evidence_previews" in summary[0]
    assert len(output.splitlines()) < 40
    # Only the seed is quiet: a job run afterwards is logged as usual.
    assert logging.getLogger("celery.app.trace").level in (logging.NOTSET, logging.INFO)


def test_the_readme_says_how_to_choose_the_port_and_who_reviews_ent0001():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "make run PORT=8001" in readme
    assert "`observer`" in readme and "产改观察员" in readme
    assert "`county10` (邳州市产改办) reviews" in readme
    # …and the seed agrees with it.
    from demo import data

    assert data.FIRST_ENTERPRISE[1] == "邳州市" and data.COUNTIES[9][0] == "邳州市"


def test_after_the_seed_reviewers_have_a_count_on_the_queue_not_a_notification_per_item(seeded, client):
    """Issue 16: `city` had 379 unread right after the seed, one per check-in to review per
    version. What waits is now the count on the queue's link; the bell has only what a person
    must know."""
    from notifications.models import Notification
    from tasks.selectors import queue_total

    Kind = Notification.Kind
    assert not Notification.objects.filter(kind=Kind.FORWARDED).exists()
    for username in ("city", "county10", "county01"):
        user = User.objects.get(username=username)
        profile = Profile.objects.get(user=user)
        waiting = queue_total(user, profile)
        client.force_login(user)
        response = client.get(reverse("tasks:assignment_list"))
        assert response.status_code == 200
        assert response.context["review_queue_count"] == waiting
        if waiting:
            assert f'<span class="visually-hidden">待审核：</span>{waiting}</span>' in response.content.decode()
        kinds = set(Notification.objects.filter(recipient=user).values_list("kind", flat=True))
        assert kinds <= {Kind.NOTICE, Kind.NEED, Kind.DEADLINE, Kind.RETURNED, Kind.SCORED, Kind.DIGEST}
    city = User.objects.get(username="city")
    assert queue_total(city, Profile.objects.get(user=city)) > 0  # the seed leaves work waiting for the city
    assert Notification.objects.filter(recipient=city, read_at__isnull=True).count() < 20
