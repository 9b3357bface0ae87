"""Shared fixtures: a small world of one city, two counties, two enterprises in each, and a
user of every role; evidence files written under a temporary MEDIA_ROOT.

Celery in tests
---------------
Ordinary tests run Celery tasks eagerly (in-process, `task_always_eager`), so
`recompute_rankings.delay(...)` computes a snapshot immediately.

But the workflow services enqueue the recompute with `transaction.on_commit`, and inside a
test's transaction (the `db` fixture) nothing ever commits, so those callbacks never fire.
A test that needs the recompute wraps the service call in

    with django_capture_on_commit_callbacks(execute=True):
        services.score(city_user, checkin, "8")

which runs the captured callbacks (and so, eagerly, the recompute) when the block exits.
Tests with a real worker on Redis are in tests/test_celery_worker.py (marker `worker`).
"""

import os
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from chanjgai_portal import broker
from chanjgai_portal.celery import app as celery_app

from . import factories as f

# Fixtures that several test modules share, each in a module of its own: an S3-compatible store
# (moto), a real Celery worker on Redis, a world with a ranking snapshot, the OpenAPI schema.
pytest_plugins = ["tests.s3", "tests.celery_worker", "tests.ranked_world", "tests.openapi_schema"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes its uploaded evidence into its own temporary folder (and spools large
    uploads in its .upload-tmp, as production does)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(settings.MEDIA_ROOT / ".upload-tmp")
    os.makedirs(settings.FILE_UPLOAD_TEMP_DIR)  # as settings.py does at start (S3File spools there too)
    return settings.MEDIA_ROOT


def set_celery_eager(eager):
    """Switch the project's Celery app between eager and real dispatch; returns the old value.

    The app reads Django settings with namespace "CELERY", so its config view looks up the
    prefixed key CELERY_TASK_ALWAYS_EAGER first: assigning `conf.task_always_eager` alone
    would be shadowed by the settings value (False whenever REDIS_URL is set).
    """
    conf = celery_app.conf
    old = conf.task_always_eager
    conf.CELERY_TASK_ALWAYS_EAGER = conf.task_always_eager = eager
    conf.CELERY_TASK_EAGER_PROPAGATES = conf.task_eager_propagates = True
    return old


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Run Celery tasks in-process, except in tests marked `worker` (they use a real worker)."""
    eager = not request.node.get_closest_marker("worker")
    old = set_celery_eager(eager)
    try:
        yield
    finally:
        set_celery_eager(old)


@pytest.fixture(autouse=True)
def _broker_not_backing_off():
    """A broker failure in one test must not make the next one skip its enqueues."""
    broker.reset()
    yield
    broker.reset()


@pytest.fixture
def pdf_upload():
    """A factory of small valid PDF uploads: pdf_upload() or pdf_upload("总结.pdf")."""
    return f.pdf_upload


@pytest.fixture
def world(db):
    """The smallest city that shows scoping and rankings.

    world.province, world.city, world.counties = [c1, c2], world.enterprises = [e11, e12, e21, e22]
    (e11, e12 in c1), world.period (open, deadline in the future),
    world.ind (enterprise indicator, 10 points), world.office_ind (county-office indicator, 10 points),
    users: world.liaisons[i] for enterprises[i], world.county_users = [c1 office, c2 office],
    world.city_user, world.observer (of c1), world.admin (superuser without a profile).
    Assignments: generated for every enterprise and county office (tasks.services.generate_assignments).
    """
    from tasks.services import generate_assignments

    province = f.RegionFactory.province(name="江苏省", code="320000")
    city = f.RegionFactory.city(parent=province, name="徐州市", code="320300")
    counties = [
        f.RegionFactory.county(parent=city, name="鼓楼区", code="320302", order=1),
        f.RegionFactory.county(parent=city, name="云龙区", code="320303", order=2),
    ]
    enterprises = [
        f.EnterpriseFactory(county=counties[0], name="徐州云集港口有限公司", size_class="large"),
        f.EnterpriseFactory(county=counties[0], name="徐州恒达机械制造有限公司", size_class="medium"),
        f.EnterpriseFactory(county=counties[1], name="徐州华瑞新材料科技有限公司", size_class="small"),
        f.EnterpriseFactory(county=counties[1], name="徐州汉风食品有限公司", size_class="micro"),
    ]
    period = f.PeriodFactory(city=city, name="2026年度")
    ind = f.IndicatorFactory(city=city, code="B01", title="开展劳动技能竞赛等技术提升措施", max_points=10)
    office_ind = f.IndicatorFactory.for_county_office(
        city=city, code="X01", title="组织产改观察员开展督查调研", max_points=10
    )
    generate_assignments(period)
    admin = f.UserFactory(username="admin", is_staff=True, is_superuser=True)
    return SimpleNamespace(
        province=province,
        city=city,
        counties=counties,
        enterprises=enterprises,
        period=period,
        ind=ind,
        office_ind=office_ind,
        liaisons=[f.liaison(e, username=f"ent{i + 1:04d}") for i, e in enumerate(enterprises)],
        county_users=[f.county_office(c, username=f"county{i + 1:02d}") for i, c in enumerate(counties)],
        city_user=f.city_office(city, username="city"),
        observer=f.observer(counties[0], username="observer"),
        admin=admin,
    )


@pytest.fixture
def other_city(world):
    """A second city beside the world's, for "city A against city B" matrices.

    宿迁市 (321300) under the world's 江苏省, with one county 宿城区 (321302), one enterprise,
    its own open period 2026年度, an enterprise indicator and a county-office indicator (both
    coded like the world's, as every city numbers its own library), their assignments, and
    users sq_ent01 (liaison), sq_county01 (county office), sq_city (city office, staff like
    the world's `city` in the demo) and sq_observer (observer of the county).
    """
    from tasks.services import generate_assignments

    city = f.RegionFactory.city(parent=world.province, name="宿迁市", code="321300")
    county = f.RegionFactory.county(parent=city, name="宿城区", code="321302", order=1)
    enterprise = f.EnterpriseFactory(county=county, name="宿迁洋河酿酒配套有限公司", size_class="large")
    period = f.PeriodFactory(city=city, name="2026年度")
    ind = f.IndicatorFactory(city=city, code="B01", title="宿迁市职工技能比武专项指标", max_points=10)
    office_ind = f.IndicatorFactory.for_county_office(city=city, code="X01", title="宿迁市县区产改督查专项指标")
    generate_assignments(period)
    city_user = f.city_office(city, username="sq_city", is_staff=True)
    return SimpleNamespace(
        city=city,
        county=county,
        enterprise=enterprise,
        period=period,
        ind=ind,
        office_ind=office_ind,
        assignment=period.assignments.get(enterprise=enterprise),
        office_assignment=period.assignments.get(county=county, enterprise__isnull=True),
        liaison=f.liaison(enterprise, username="sq_ent01"),
        county_user=f.county_office(county, username="sq_county01"),
        city_user=city_user,
        observer=f.observer(county, username="sq_observer"),
    )


@pytest.fixture
def assignment_of(world):
    """assignment_of(enterprise_or_county, indicator=None): the world's assignment for it."""
    from enterprises.models import Enterprise
    from tasks.models import Assignment

    def get(assignee, indicator=None):
        if isinstance(assignee, Enterprise):
            return Assignment.objects.get(period=world.period, indicator=indicator or world.ind, enterprise=assignee)
        return Assignment.objects.get(
            period=world.period, indicator=indicator or world.office_ind, county=assignee, enterprise__isnull=True
        )

    return get


@pytest.fixture
def running_in_ci():
    return bool(os.environ.get("CI"))


@pytest.fixture
def fast_password_hashes(request, settings):
    """Each login hashes a password: MD5 instead of PBKDF2 keeps the many logins here cheap.

    The world is built first, so that tests/factories.py caches its usual (PBKDF2) hash and
    later tests, which run without MD5, can still log in with it."""
    world = request.getfixturevalue("world") if "world" in request.fixturenames else None
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    if world is not None:
        from django.contrib.auth.hashers import make_password

        fast = make_password(f.PASSWORD)
        for user in [*world.liaisons, *world.county_users, world.city_user, world.observer, world.admin]:
            user.password = fast
            user.save(update_fields=["password"])


@pytest.fixture(scope="session")
def live_server_media_url():
    """The portal sets MEDIA_URL = None (evidence is never served as a static file), which
    Django's live server cannot wrap (it parses MEDIA_URL). A URL with a host makes the live
    server's media handler step aside, so evidence still goes through the permission check."""
    from django.test.utils import override_settings

    with override_settings(MEDIA_URL="http://media.invalid/"):
        yield


@pytest.fixture
def fresh_throttles():
    """API throttle counters live in the cache, which outlives a test: cleared before and after."""
    cache.clear()
    yield
    cache.clear()
