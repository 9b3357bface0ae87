"""Insecure direct object references: every URL pattern of the site, the API and the admin
that takes an id, tried by every role with ids outside its scope.

The patterns are found by walking django.urls.get_resolver(), so a new pattern is covered
automatically: test_every_pattern_with_a_parameter_is_probed_or_exempt fails until it has a
probe spec below (or an exemption with a reason). For each pattern and role the probes are
  - every object of the pattern's kind the role may not see (other enterprises, counties
    and the other city, so sequential neighbours are included), with GET, POST, PUT, PATCH
    and DELETE;
  - guessed ids (max id + 1, 0, -1, 2**31, 2**63, non-numeric), with GET and the view's method.
Each answer must be 403, 404 or (for a method the view does not take) 405, never a success
or a 500, and must not contain any name, credit code, file name, comment or text the role
may not read: bodies, headers (download file names) and the sheets inside .xlsx files are
searched. Nothing may change. Then an in-scope control request must work, so that a broken
URL or fixture cannot make the sweep pass by answering 404 to everybody.

The world is built once for the module (two cities with two counties each, check-ins in
every state, evidence, notices, needs, cases, notifications, export jobs, uploaded sheets)
inside a transaction that is rolled back at the end; each test runs in a savepoint.
"""

import html
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable
from urllib.parse import unquote

import pytest
from django.apps import apps
from django.contrib import admin as django_admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from accounts import onboarding, security
from enterprises.models import Enterprise, Profile, Region
from notices.cases import mark_example_case
from notices.models import ExampleCase, Need, NeedMessage, Notice, NoticeAttachment, NoticeRead
from notices.needs import reply_need, report_need
from notices.publishing import publish_notice, record_notice_read
from notifications.models import Notification
from scoring.engine import compute_snapshot
from scoring.models import RecomputeRequest, ScoringRule
from spreadsheets.exports import jobs as export_jobs
from spreadsheets.imports import previews as import_previews
from spreadsheets.imports.services import template_workbook
from spreadsheets.imports.uploads import store_upload
from spreadsheets.models import ExportJob
from tasks import moves, previews, services
from tasks.models import Assignment, CheckIn, EnterpriseMove, Evidence, Indicator, Period, ReviewEvent
from tasks.services import generate_assignments

from . import factories as f

ROLES = ("liaison", "county", "city", "obs_county", "obs_ent")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSED = {403, 404}


# --- the URL patterns ----------------------------------------------------------------------

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()\\]|\\.|\([^()]*\))*\)")


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        else:
            yield prefix + str(pattern.pattern), (namespace + pattern.name) if pattern.name else ""


def patterns_with_parameters():
    """{key: route} of every URL pattern whose route takes a parameter. The key is the
    namespaced URL name, or the route itself for unnamed patterns (admin redirects)."""
    found = {}
    for route, name in _walk(get_resolver().url_patterns):
        if _PARAM.search(route):
            found[name if name and not name.endswith(":") else route] = route
    return found


def url_of(route, **values):
    """The path of `route` with its parameters replaced by `values` (any string, also one
    the converter would refuse, to try guessed ids)."""

    def value(match):
        return str(values[match.group(1) or match.group(2)])

    path = _PARAM.sub(value, route)
    return "/" + path.replace("^", "").replace("$", "").replace("\\.", ".")


def params_of(route):
    return [m.group(1) or m.group(2) for m in _PARAM.finditer(route)]


# --- the world -----------------------------------------------------------------------------


@dataclass
class Item:
    """One object a pattern's id can name, and the roles that may open it."""

    params: dict
    seen_by: frozenset
    label: str = ""


def _pdf(name):
    # A real PDF (the same bytes everywhere: rendered once), so that evidence has previews.
    return f.pdf_upload(name, content=_REAL_PDF)


_REAL_PDF = f.real_pdf_bytes()


def _checkin(user, assignment, code):
    return services.submit_checkin(user, assignment, f"打卡说明{code}", [_pdf(f"佐证材料{code}.pdf")])


@pytest.fixture(scope="module")
def w(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two cities, built once for the module and rolled back after it."""
    media = tmp_path_factory.mktemp("idor_media")
    with django_db_blocker.unblock():
        from django.test.utils import override_settings

        with override_settings(MEDIA_ROOT=str(media)), transaction.atomic():
            world = _build_world()
            world.media = media
            yield world
            transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _module_media(settings, w):
    """The module's evidence and export files live in the module's media folder."""
    settings.MEDIA_ROOT = str(w.media)


def _build_world():
    x = SimpleNamespace()
    province = f.RegionFactory.province(name="江苏省", code="320000")
    x.province = province
    x.city = f.RegionFactory.city(parent=province, name="徐州市", code="320300")
    x.c1 = f.RegionFactory.county(parent=x.city, name="鼓楼区", code="320302", order=1)
    x.c2 = f.RegionFactory.county(parent=x.city, name="云龙区", code="320303", order=2)
    x.city2 = f.RegionFactory.city(parent=province, name="南京市", code="320100")
    x.d1 = f.RegionFactory.county(parent=x.city2, name="玄武区", code="320102", order=1)
    x.d2 = f.RegionFactory.county(parent=x.city2, name="秦淮区", code="320104", order=2)
    ent = f.EnterpriseFactory
    x.e11 = ent(county=x.c1, name="徐州云集港口有限公司", size_class="large")
    x.e12 = ent(county=x.c1, name="徐州恒达机械制造有限公司", size_class="medium")
    x.e21 = ent(county=x.c2, name="徐州华瑞新材料科技有限公司", size_class="small")
    x.e22 = ent(county=x.c2, name="徐州汉风食品有限公司", size_class="micro")
    x.f11 = ent(county=x.d1, name="南京金陵精密仪器有限公司", size_class="medium")
    x.f21 = ent(county=x.d2, name="南京秦淮灯彩工艺有限公司", size_class="small")
    x.p1 = f.PeriodFactory(city=x.city, name="2026年度")
    x.p2 = f.PeriodFactory(city=x.city2, name="2026年度")
    x.ind1 = f.IndicatorFactory(city=x.city, code="B01", title="开展劳动技能竞赛等技术提升措施", max_points=10)
    x.office1 = f.IndicatorFactory.for_county_office(city=x.city, code="X01", title="组织产改观察员开展督查调研")
    x.ind2 = f.IndicatorFactory(city=x.city2, code="B01", title="南京市职工技能比武专项指标", max_points=10)
    x.office2 = f.IndicatorFactory.for_county_office(city=x.city2, code="X01", title="南京市县区产改督查专项指标")
    generate_assignments(x.p1)
    generate_assignments(x.p2)

    u = SimpleNamespace()
    for key in ("e11", "e12", "e21", "e22", "f11", "f21"):
        setattr(u, key, f.liaison(getattr(x, key), username=f"idor_{key}"))
    for key in ("c1", "c2", "d1", "d2"):
        setattr(u, key, f.county_office(getattr(x, key), username=f"idor_{key}"))
    u.city = f.city_office(x.city, username="idor_city")
    u.city2 = f.city_office(x.city2, username="idor_city2")
    u.obs_county = f.observer(x.c1, username="idor_obs_county")
    u.obs_ent = f.observer(x.e11, username="idor_obs_ent")
    # A city office user with the admin rights seed_demo gives the 市产改办 group.
    u.staff = f.city_office(x.city, username="idor_staff")
    u.staff.is_staff = True
    u.staff.save()
    group = Group.objects.create(name="idor 市产改办")
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=("enterprises", "tasks", "scoring")))
    u.staff.groups.add(group)
    u.superuser = f.UserFactory(username="idor_admin", is_staff=True, is_superuser=True)
    x.users = u
    x.role_user = {"liaison": u.e11, "county": u.c1, "city": u.city, "obs_county": u.obs_county, "obs_ent": u.obs_ent}
    x.tokens = {role: security.issue_api_token(user)[1] for role, user in x.role_user.items()}
    # 账号管理: each city office has an account sheet (a reset) and its account events.
    x.sheet_city = onboarding.reset_password(u.city, u.e22.pk)
    x.sheet_city2 = onboarding.reset_password(u.city2, u.f11.pk)

    def assignment(owner, period, indicator=None):
        if isinstance(owner, Enterprise):
            return Assignment.objects.get(period=period, enterprise=owner)
        return Assignment.objects.get(period=period, county=owner, enterprise__isnull=True)

    # Check-ins in every state, each with its own file names and comments.
    c = _checkin(u.e11, assignment(x.e11, x.p1), "E11")
    services.approve(u.c1, c, "同意上报意见E11")
    x.checkin_e11 = services.score(u.city, c, "8", "评分意见E11")
    c = _checkin(u.e12, assignment(x.e12, x.p1), "E12A")
    services.return_checkin(u.c1, c, "退回理由E12A")
    x.checkin_e12 = _checkin(u.e12, assignment(x.e12, x.p1), "E12B")
    c = _checkin(u.e21, assignment(x.e21, x.p1), "E21")
    services.approve(u.c2, c, "同意上报意见E21")
    x.checkin_e21 = services.score(u.city, c, "9", "评分意见E21")
    c = _checkin(u.e22, assignment(x.e22, x.p1), "E22")
    x.checkin_e22 = services.approve(u.c2, c, "同意上报意见E22")
    x.checkin_c1 = _checkin(u.c1, assignment(x.c1, x.p1), "C1O")
    c = _checkin(u.c2, assignment(x.c2, x.p1), "C2O")
    services.return_checkin(u.city, c, "退回理由C2O")
    x.checkin_f11 = _checkin(u.f11, assignment(x.f11, x.p2), "F11")
    c = _checkin(u.f21, assignment(x.f21, x.p2), "F21")
    services.approve(u.d2, c, "同意上报意见F21")
    x.checkin_f21 = services.score(u.city2, c, "7", "评分意见F21")
    c = _checkin(u.d1, assignment(x.d1, x.p2), "D1O")
    services.score(u.city2, c, "6", "评分意见D1O")
    # 南京's city office moved an enterprise with a check-in pending review between its
    # counties (tasks.moves): the move's record and events must stay in 南京.
    x.f12 = ent(county=x.d1, name="南京迁址机电设备有限公司", size_class="small")
    generate_assignments(x.p2)
    u.f12 = f.liaison(x.f12, username="idor_f12")
    _checkin(u.f12, assignment(x.f12, x.p2), "F12")
    x.move_nj = moves.move_enterprise(u.city2, x.f12, x.d2, "调整理由F12")

    for period in (x.p1, x.p2):
        ScoringRule.for_period(period)
        compute_snapshot(period, trigger="test")
        RecomputeRequest.objects.create(period=period, full=True)

    # Notices: city-wide, one county, one size class, the other city, a county office's own.
    x.notices = {
        "xz_city": publish_notice(
            u.city, "通知标题XZ全市", "通知正文XZ全市", "city", files=[_pdf("通知附件XZ全市.pdf")]
        ),
        "c2": publish_notice(
            u.c2, "通知标题C2县", "通知正文C2县", "county", files=[_pdf("通知附件C2县.pdf")]
        ),
        "xz_micro": publish_notice(
            u.city, "通知标题XZ微型", "通知正文XZ微型", "size", target_size="micro", files=[_pdf("通知附件XZ微型.pdf")]
        ),
        "nj_city": publish_notice(
            u.city2, "通知标题NJ全市", "通知正文NJ全市", "city", files=[_pdf("通知附件NJ全市.pdf")]
        ),
        "c1": publish_notice(
            u.c1, "通知标题C1县", "通知正文C1县", "county", files=[_pdf("通知附件C1县.pdf")]
        ),
    }
    record_notice_read(u.e21, x.notices["c2"])
    # Who may read each notice (observers read none), and whose office sees its readers.
    x.notice_audience = {
        "xz_city": {"liaison", "county", "city"},
        "c2": {"city"},
        "xz_micro": {"county", "city"},
        "nj_city": set(),
        "c1": {"liaison", "county", "city"},
    }
    x.notice_publisher = {"xz_city": {"city"}, "c2": set(), "xz_micro": {"city"}, "nj_city": set(), "c1": {"county"}}

    # Needs, with attachments and a reply.
    x.need_e11 = report_need(u.e11, "training", "需求描述E11", _pdf("需求附件E11.pdf"))
    x.need_e21 = report_need(u.e21, "policy", "需求描述E21", _pdf("需求附件E21.pdf"))
    reply_need(u.c2, x.need_e21, "答复内容E21")
    x.need_f11 = report_need(u.f11, "policy", "需求描述F11", _pdf("需求附件F11.pdf"))
    x.need_e12 = report_need(u.e12, "other", "需求描述E12")  # without an attachment

    # Good-practice cases: one of 徐州 with its evidence not public, one of 南京 with it public.
    x.case_xz = mark_example_case(u.city, x.checkin_e21, "优秀案例标题XZ", "案例摘要XZ", False)
    x.case_nj = mark_example_case(u.city2, x.checkin_f21, "优秀案例标题NJ", "案例摘要NJ", True)

    # Export jobs, each finished with its file.
    x.jobs = {}
    for key, user, period in (("c1", u.c1, x.p1), ("c2", u.c2, x.p1), ("city", u.city, x.p1), ("nj", u.city2, x.p2)):
        job = ExportJob.objects.create(
            requester=user, kind=ExportJob.Kind.ENTERPRISE_RANKING, params={"period": str(period.pk)}
        )
        export_jobs.run_job(job.pk)
        job.refresh_from_db()
        assert job.status == ExportJob.Status.DONE, job.error
        x.jobs[key] = job

    # Uploaded sheets waiting for their preview, of each city office.
    x.sheet_tokens = {key: _store_sheet(user) for key, user in (("city", u.city), ("nj", u.city2))}

    # Batch results (their form tokens) of a county office and a city office; each batch's one
    # item is scored already, so it is refused and nothing changes.
    x.batch_tokens = {
        "county": _record_batch(u.c1, "approve", x.checkin_e11),
        "city": _record_batch(u.city, "return", x.checkin_e11),
        "nj": _record_batch(u.city2, "return", x.checkin_f21),
    }
    # The evidence previews, as the job makes them after each submission commits.
    for evidence_id in Evidence.objects.values_list("pk", flat=True):
        previews.make_previews(evidence_id)

    x.secrets = _secrets(x)
    return x


def _record_batch(user, action, checkin):
    client = Client()
    client.force_login(user)
    token = uuid.uuid4().hex
    response = client.post(
        reverse("tasks:batch_decide"), {"action": action, "ids": [checkin.pk], "text": "理由", "idempotency_key": token}
    )
    assert response.status_code == 302, response.content
    return token


def _store_sheet(user):
    """An uploaded sheet of the user's with its preview computed (the template's example row and
    a row with a bad credit code, so that the preview has an error workbook)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(template_workbook(user, "enterprises")))
    sheet = workbook.active
    example = [cell.value for cell in sheet[2]]
    sheet.append(["123", *example[1:9], "", *example[10:]])
    out = io.BytesIO()
    workbook.save(out)
    stored = store_upload(user, SimpleUploadedFile("企业名单.xlsx", out.getvalue()))
    import_previews.run_preview(import_previews.start_preview(user, "enterprises", stored, run_task=None).pk)
    return stored.token


# --- who may see what (the rules, stated once more, independently of visible_to) ---------


def sees_tag(role, enterprise, county, x):
    """The scope rule of DOMAIN.md for an object of an enterprise (or a county office)."""
    if role in ("liaison", "obs_ent"):
        return enterprise is not None and enterprise.pk == x.e11.pk
    if role in ("county", "obs_county"):
        return county.pk == x.c1.pk
    return county.parent_id == x.city.pk


def scoped_roles(x, enterprise, county):
    return frozenset(r for r in ROLES if sees_tag(r, enterprise, county, x))


def city_roles(x, city_id):
    return frozenset(ROLES) if city_id == x.city.pk else frozenset()


def _secrets(x):
    """{text: roles that may read it}: every name, code, file name, comment and text of the world."""
    secrets = {}

    def add(text, roles):
        if text:
            secrets[text] = secrets.get(text, frozenset()) | frozenset(roles)

    for e in Enterprise.objects.all():
        add(e.name, scoped_roles(x, e, e.county))
        add(e.credit_code, scoped_roles(x, e, e.county))
    # A good-practice case names its enterprise to the whole city (by design).
    add(x.e21.name, ROLES)
    for c in CheckIn.objects.select_related("assignment__enterprise", "assignment__county"):
        add(c.description, scoped_roles(x, c.assignment.enterprise, c.assignment.county))
    for ev in Evidence.objects.select_related("checkin__assignment__enterprise", "checkin__assignment__county"):
        a = ev.checkin.assignment
        add(ev.original_name, scoped_roles(x, a.enterprise, a.county))
    for event in ReviewEvent.objects.select_related("checkin__assignment__enterprise", "checkin__assignment__county"):
        a = event.checkin.assignment
        add(event.comment, scoped_roles(x, a.enterprise, a.county))
    for move in EnterpriseMove.objects.select_related("enterprise", "to_county"):
        add(move.reason, scoped_roles(x, move.enterprise, move.to_county))
    for ind in Indicator.objects.all():
        add(ind.title, city_roles(x, ind.city_id))
    for key, notice in x.notices.items():
        add(notice.title, x.notice_audience[key])
        add(notice.body, x.notice_audience[key])
        for attachment in notice.attachments.all():
            add(attachment.original_name, x.notice_audience[key])
    for need in Need.objects.select_related("enterprise", "county"):
        roles = scoped_roles(x, need.enterprise, need.county)
        add(need.attachment_name, roles)
        for message in need.messages.all():
            add(message.text, roles)
    for case in ExampleCase.objects.all():
        add(case.title, city_roles(x, case.city_id))
        add(case.summary, city_roles(x, case.city_id))
    return secrets


def forbidden(x, role):
    return [text for text, roles in x.secrets.items() if role not in roles]


# --- requests and what an answer may contain ---------------------------------------------


def client_for(x, role, api=False):
    if api:
        return Client(HTTP_AUTHORIZATION=f"Token {x.tokens[role]}")
    client = Client()
    client.force_login(x.role_user[role] if role in x.role_user else getattr(x.users, role))
    return client


def send(client, method, url, data=None, follow=False):
    if method == "GET":
        return client.get(url, follow=follow)
    if method == "POST":
        return client.post(url, data or {}, follow=follow)
    return client.generic(method, url, json.dumps(data or {}), content_type="application/json")


def readable_text(response):
    """Everything a user gets back: headers (download names, decoded), the body, and the
    sheets inside an .xlsx; JSON with its escapes undone, HTML with its entities."""
    # Reading a streamed body to its end closes it the test client's way (keeping the
    # test's database connection); response.close() here would close the connection.
    raw = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    parts = [raw.decode("utf-8", "ignore")]
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            parts += [archive.read(name).decode("utf-8", "ignore") for name in archive.namelist()]
    if response.get("Content-Type", "").startswith("application/json") and raw:
        parts.append(json.dumps(json.loads(raw), ensure_ascii=False))
    parts.append(unquote(" ".join(f"{key}: {value}" for key, value in response.items())))
    return html.unescape("\n".join(parts))


def assert_refused(x, response, role, label, allowed=REFUSED):
    assert response.status_code in allowed, f"{label}: {response.status_code}"
    text = readable_text(response)
    leaked = [secret for secret in forbidden(x, role) if secret in text]
    assert not leaked, f"{label} leaks {leaked}"


def fingerprint():
    """What a refused request must not change."""
    return (
        tuple(CheckIn.objects.order_by("pk").values_list("pk", "state", "points")),
        tuple(Assignment.objects.order_by("pk").values_list("pk", "state", "points")),
        tuple(ReviewEvent.objects.order_by("pk").values_list("pk", "comment", "points")),
        Evidence.objects.count(),
        tuple(Need.objects.order_by("pk").values_list("pk", "state")),
        NeedMessage.objects.count(),
        NoticeRead.objects.count(),
        Notice.objects.count(),
        NoticeAttachment.objects.count(),
        Notification.objects.filter(read_at__isnull=True).count(),
        ExampleCase.objects.count(),
        tuple(ExportJob.objects.order_by("pk").values_list("pk", "status")),
        tuple(Enterprise.objects.order_by("pk").values_list("pk", "name", "county_id")),
        EnterpriseMove.objects.count(),
        tuple(Region.objects.order_by("pk").values_list("pk", "name", "parent_id")),
        tuple(Profile.objects.order_by("pk").values_list("pk", "role", "enterprise_id", "region_id")),
        tuple(Period.objects.order_by("pk").values_list("pk", "name", "is_closed")),
        tuple(Indicator.objects.order_by("pk").values_list("pk", "title", "max_points")),
    )


# --- what each pattern's ids name --------------------------------------------------------


def _items_checkins(x, extra=None):
    out = []
    for c in CheckIn.objects.select_related("assignment__enterprise", "assignment__county").order_by("pk"):
        roles = scoped_roles(x, c.assignment.enterprise, c.assignment.county)
        out.append(Item({"pk": c.pk}, roles if extra is None else extra(roles, c), f"check-in {c.pk}"))
    return out


def items_assignments(x):
    return [
        Item({"pk": a.pk}, scoped_roles(x, a.enterprise, a.county), f"assignment {a.pk}")
        for a in Assignment.objects.select_related("enterprise", "county").order_by("pk")
    ]


def items_checkins(x):
    return _items_checkins(x)


def items_checkins_for_cases(x):
    """case_create: only the city office marks cases, of check-ins of its city."""
    return _items_checkins(x, lambda roles, c: roles & {"city"})


def items_evidence(x):
    return [
        Item(
            {"pk": ev.pk},
            scoped_roles(x, ev.checkin.assignment.enterprise, ev.checkin.assignment.county),
            f"evidence {ev.original_name}",
        )
        for ev in Evidence.objects.select_related("checkin__assignment__enterprise", "checkin__assignment__county")
    ]


def items_evidence_with_previews(x, **extra):
    ready = set(Evidence.objects.filter(preview_state="ready").values_list("pk", flat=True))
    return [Item({**item.params, **extra}, item.seen_by, item.label) for item in items_evidence(x) if item.params["pk"] in ready]


def items_enterprises(x, key="pk"):
    return [Item({key: e.pk}, scoped_roles(x, e, e.county), e.name) for e in Enterprise.objects.select_related("county")]


def items_counties_explained(x):
    """county_detail: every county of the city for the offices and county observers (the
    county ranking is the city's); 403 for enterprise-level users; 404 beyond the city."""
    readers = frozenset({"county", "city", "obs_county"})
    return [
        Item({"county_id": r.pk}, readers if r.parent_id == x.city.pk else frozenset(), r.name)
        for r in Region.objects.all()
    ]


def items_regions(x):
    return [
        Item({"pk": r.pk}, frozenset(ROLES) if r.pk == x.city.pk or r.parent_id == x.city.pk else frozenset(), r.name)
        for r in Region.objects.all()
    ]


def items_periods(x):
    return [Item({"pk": p.pk}, city_roles(x, p.city_id), f"period {p.pk}") for p in Period.objects.all()]


def items_indicators(x):
    return [Item({"pk": i.pk}, city_roles(x, i.city_id), i.title) for i in Indicator.objects.all()]


def items_accounts(x, **extra):
    """Every account with a role: the city office manages its city's (not its own), the
    county office its county's liaisons; nobody else manages any."""
    county_liaisons = {x.users.e11.pk, x.users.e12.pk}
    items = []
    for user in Profile.objects.select_related("user").order_by("user_id"):
        in_city = user.city is not None and user.city.pk == x.city.pk and user.user_id != x.users.city.pk
        roles = {"city"} if in_city else set()
        if user.user_id in county_liaisons:
            roles.add("county")
        items.append(Item({"pk": user.user_id, **extra}, frozenset(roles), user.user.username))
    return items


def items_account_sheets(x):
    return [
        Item({"sheet_id": x.sheet_city.pk}, frozenset({"city"}), "sheet of idor_city"),
        Item({"sheet_id": x.sheet_city2.pk}, frozenset(), "sheet of idor_city2"),
    ]


def items_jobs(x):
    owner = {user.pk: role for role, user in x.role_user.items()}
    return [
        Item({"pk": job.pk}, frozenset({owner[job.requester_id]}) if job.requester_id in owner else frozenset(), str(job))
        for job in ExportJob.objects.all()
    ]


def _notice_key(x, notice_id):
    return next(key for key, notice in x.notices.items() if notice.pk == notice_id)


def items_notices(x):
    return [Item({"pk": n.pk}, frozenset(x.notice_audience[key]), n.title) for key, n in x.notices.items()]


def items_notice_readers(x):
    return [Item({"pk": n.pk}, frozenset(x.notice_publisher[key]), n.title) for key, n in x.notices.items()]


def items_notice_attachments(x):
    return [
        Item({"pk": a.pk}, frozenset(x.notice_audience[_notice_key(x, a.notice_id)]), a.original_name)
        for a in NoticeAttachment.objects.all()
    ]


def items_notifications(x):
    owner = {user.pk: role for role, user in x.role_user.items()}
    return [
        Item({"pk": n.pk}, frozenset({owner[n.recipient_id]}) if n.recipient_id in owner else frozenset(), n.text)
        for n in Notification.objects.all()
    ]


def items_needs(x):
    return [
        Item({"pk": n.pk}, scoped_roles(x, n.enterprise, n.county), n.text)
        for n in Need.objects.select_related("enterprise", "county")
    ]


def items_cases(x):
    return [Item({"pk": c.pk}, city_roles(x, c.city_id), c.title) for c in ExampleCase.objects.all()]


def items_case_evidence(x):
    """(case, file) pairs: a file is reachable through a case only if it is the case's
    check-in's, and then for everyone of the city when public, else as the file's own scope."""
    out = []
    for case in ExampleCase.objects.all():
        for ev in Evidence.objects.select_related("checkin__assignment__enterprise", "checkin__assignment__county"):
            roles = frozenset()
            if ev.checkin_id == case.checkin_id and case.city_id == x.city.pk:
                a = ev.checkin.assignment
                roles = frozenset(ROLES) if case.is_public_evidence else scoped_roles(x, a.enterprise, a.county)
            out.append(Item({"pk": case.pk, "evidence_pk": ev.pk}, roles, f"case {case.pk} / {ev.original_name}"))
    return out


def items_sheet_tokens(x):
    return [
        Item({"kind": "enterprises", "token": token}, frozenset({"city"}) if key == "city" else frozenset(), key)
        for key, token in x.sheet_tokens.items()
    ]


def items_batch_tokens(x):
    return [
        Item({"token": token}, frozenset({role}) & frozenset(ROLES), f"batch of {role}")
        for role, token in x.batch_tokens.items()
    ]


INT_GUESSES = ("0", "-1", str(2**31), str(2**63), "abc", "1.0", "1%20OR%201=1")


@dataclass
class Spec:
    """How to probe one pattern: the objects its ids name, the method the view takes and
    the in-scope control requests that must work."""

    items: Callable
    method: str = "GET"
    api: bool = False
    model: object = None  # for max id + 1
    ok: frozenset = frozenset({200})  # what an in-scope GET answers
    # (role, params or a function of the world giving them, data, statuses) for POST views
    controls: Callable = None
    # The body the view's method is probed with: valid input, so that only the scope
    # check stands between the request and a change.
    probe_data: Callable = dict
    guesses: tuple = INT_GUESSES
    roles: tuple = ROLES

    def guessed(self, x, route):
        """Param dicts with guessed ids: max id + 1 and the fixed guesses, in every id parameter."""
        values = list(self.guesses)
        if self.model is not None:
            values.insert(0, str((self.model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1))
        base = self.items(x)[0].params
        out = []
        for name in params_of(route):
            if name == "kind":
                continue
            for value in values:
                out.append({**base, name: value})
        return out


def _first(items, role):
    return next((item for item in items if role in item.seen_by), None)


def post_control(role, find, data, statuses):
    """A control POST: `find(x)` gives the in-scope object's params."""
    return lambda x: [(role, find(x), data, statuses)]


SPECS = {
    # tasks
    "tasks:assignment_detail": Spec(items_assignments, model=Assignment),
    "tasks:submit": Spec(
        items_assignments,
        "POST",
        model=Assignment,
        probe_data=lambda: {"description": "越权提交", "files": _pdf("越权.pdf")},
        # The assignees' own tasks are found: they are in review or scored, so 409.
        controls=lambda x: [
            ("liaison", {"pk": x.checkin_e11.assignment_id}, {"description": "再次提交", "files": _pdf("再次.pdf")}, {409}),
            ("county", {"pk": x.checkin_c1.assignment_id}, {"description": "再次提交", "files": _pdf("再次.pdf")}, {409}),
        ],
    ),
    "tasks:checkin_detail": Spec(items_checkins, model=CheckIn),
    "tasks:approve": Spec(
        items_checkins, "POST", model=CheckIn, probe_data=lambda: {"comment": "越权同意"},
        controls=post_control("county", lambda x: {"pk": x.checkin_e11.pk}, {}, {409}),
    ),
    "tasks:return_checkin": Spec(
        items_checkins, "POST", model=CheckIn, probe_data=lambda: {"reason": "越权退回"},
        controls=post_control("county", lambda x: {"pk": x.checkin_e12.pk}, {}, {400}),
    ),
    "tasks:score": Spec(
        items_checkins, "POST", model=CheckIn, probe_data=lambda: {"points": "5", "comment": "越权评分"},
        controls=post_control("city", lambda x: {"pk": x.checkin_e22.pk}, {"points": "11"}, {400}),
    ),
    "tasks:reopen": Spec(
        items_checkins, "POST", model=CheckIn, probe_data=lambda: {"reason": "越权重开"},
        controls=post_control("city", lambda x: {"pk": x.checkin_e11.pk}, {}, {400}),
    ),
    "tasks:evidence_download": Spec(items_evidence, model=Evidence),
    # a batch's result page: the token of the sender's form
    "tasks:batch_result": Spec(items_batch_tokens, guesses=("0" * 32, "abc", "..%2F..%2Fetc%2Fpasswd", "%2e%2e")),
    "tasks:evidence_preview_status": Spec(items_evidence, model=Evidence),
    "tasks:evidence_thumb": Spec(items_evidence_with_previews, model=Evidence),
    "tasks:evidence_page": Spec(lambda x: items_evidence_with_previews(x, page=1), model=Evidence),
    # scoring
    "scoring:county_detail": Spec(items_counties_explained, model=Region),
    "scoring:enterprise_detail": Spec(lambda x: items_enterprises(x, "enterprise_id"), model=Enterprise),
    "scoring:export_job": Spec(items_jobs, model=ExportJob),
    "scoring:export_job_status": Spec(items_jobs, model=ExportJob),
    "scoring:export_job_download": Spec(items_jobs, model=ExportJob),
    # accounts (账号管理)
    "accounts:detail": Spec(items_accounts, model=Profile.user.field.related_model),
    "accounts:action": Spec(
        lambda x: items_accounts(x, action="disable"),
        "POST",
        model=Profile.user.field.related_model,
        controls=post_control("county", lambda x: {"pk": x.users.e12.pk, "action": "enable"}, {}, {409}),
    ),
    "accounts:sheet": Spec(items_account_sheets, model=None, guesses=("0", "abc", str(uuid.uuid4()))),
    "accounts:sheet_download": Spec(items_account_sheets, model=None, guesses=("0", "abc", str(uuid.uuid4()))),
    "accounts:sheet_discard": Spec(
        items_account_sheets,
        "POST",
        model=None,
        guesses=("0", "abc", str(uuid.uuid4())),
        controls=post_control("city", lambda x: {"sheet_id": x.sheet_city.pk}, {}, {302}),
    ),
    # notices
    "notices:notice_detail": Spec(items_notices, model=Notice),
    "notices:notice_readers": Spec(items_notice_readers, model=Notice),
    "notices:notice_attachment": Spec(items_notice_attachments, model=NoticeAttachment),
    "notices:notification_open": Spec(items_notifications, model=Notification, ok=frozenset({302})),
    "notices:need_detail": Spec(items_needs, model=Need),
    "notices:need_reply": Spec(
        items_needs, "POST", model=Need, probe_data=lambda: {"text": "越权答复"},
        controls=post_control("county", lambda x: {"pk": x.need_e11.pk}, {"text": ""}, {400}),
    ),
    "notices:need_forward": Spec(
        items_needs, "POST", model=Need, probe_data=lambda: {"text": "越权转办"},
        controls=post_control("county", lambda x: {"pk": x.need_e11.pk}, {"text": "转市产改办"}, {302}),
    ),
    "notices:need_resolve": Spec(
        items_needs, "POST", model=Need, probe_data=lambda: {"text": "越权办结"},
        controls=post_control("county", lambda x: {"pk": x.need_e11.pk}, {"text": "已解决"}, {302}),
    ),
    "notices:need_attachment": Spec(
        lambda x: [item for item in items_needs(x) if Need.objects.get(**item.params).attachment], model=Need
    ),
    "notices:case_create": Spec(
        lambda x: [Item({"checkin_pk": i.params["pk"]}, i.seen_by, i.label) for i in items_checkins_for_cases(x)],
        model=CheckIn,
        probe_data=lambda: {"title": "越权案例", "summary": "越权", "is_public_evidence": "on"},
    ),
    "notices:case_detail": Spec(items_cases, model=ExampleCase),
    "notices:case_evidence": Spec(items_case_evidence, model=Evidence),
    # spreadsheets: the token names one user's uploaded sheet
    "spreadsheets:preview": Spec(
        items_sheet_tokens,
        ok=frozenset({200, 400}),  # the template's example row may be refused; the page shows it
        guesses=("0" * 32 + ".xlsx", "abc", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"),
    ),
    "spreadsheets:preview_status": Spec(
        items_sheet_tokens, guesses=("0" * 32 + ".xlsx", "abc", "..%2F..%2Fetc%2Fpasswd", "%2e%2e")
    ),
    "spreadsheets:preview_errors": Spec(
        items_sheet_tokens, guesses=("0" * 32 + ".xlsx", "abc", "..%2F..%2Fetc%2Fpasswd", "%2e%2e")
    ),
    "spreadsheets:confirm": Spec(
        items_sheet_tokens,
        "POST",
        guesses=("0" * 32 + ".xlsx", "abc", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"),
        # A fresh upload of the city office's own: confirming it is found (applied or refused).
        controls=lambda x: [("city", {"kind": "enterprises", "token": _store_sheet(x.users.city)}, {}, {302, 400})],
    ),
    # the API
    "api:evidence-download": Spec(items_evidence, api=True, model=Evidence),
    "api:region-detail": Spec(items_regions, api=True, model=Region),
    "api:enterprise-detail": Spec(items_enterprises, api=True, model=Enterprise),
    "api:period-detail": Spec(items_periods, api=True, model=Period),
    "api:indicator-detail": Spec(items_indicators, api=True, model=Indicator),
    "api:assignment-detail": Spec(items_assignments, api=True, model=Assignment),
    "api:checkin-detail": Spec(items_checkins, api=True, model=CheckIn),
    "api:checkin-approve": Spec(
        items_checkins, "POST", api=True, model=CheckIn, probe_data=lambda: {"comment": "越权同意"},
        controls=post_control("county", lambda x: {"pk": x.checkin_e11.pk}, {}, {409}),
    ),
    "api:checkin-return": Spec(
        items_checkins, "POST", api=True, model=CheckIn, probe_data=lambda: {"reason": "越权退回"},
        controls=post_control("county", lambda x: {"pk": x.checkin_e12.pk}, {"reason": " "}, {400}),
    ),
    "api:checkin-score": Spec(
        items_checkins, "POST", api=True, model=CheckIn, probe_data=lambda: {"points": "5", "comment": "越权评分"},
        controls=post_control("city", lambda x: {"pk": x.checkin_e22.pk}, {"points": "11"}, {400}),
    ),
    "api:enterprise-move": Spec(
        items_enterprises, "POST", api=True, model=Enterprise,
        # A county of the city: for the city office's own enterprises a valid move, so
        # only the scope check stands between another city's enterprise and a move.
        probe_data=lambda: {"county": Region.objects.get(code="320303").pk, "reason": "越权调整"},
        controls=lambda x: [
            ("city", {"pk": x.e11.pk}, {"county": "abc", "reason": "调整"}, {400}),
            ("county", {"pk": x.e11.pk}, {"county": x.c2.pk, "reason": "调整"}, {403}),
        ],
    ),
    "api:checkin-reopen": Spec(
        items_checkins, "POST", api=True, model=CheckIn, probe_data=lambda: {"reason": "越权重开"},
        controls=post_control("city", lambda x: {"pk": x.checkin_e11.pk}, {"reason": " "}, {400}),
    ),
}

EXEMPT = {
    "admin:app_list": "the admin's app index takes an app label from a fixed list, not an object id",
    "admin/(?P<url>.*)$": "the admin's catch-all only appends a slash or answers 404; it names no object",
    "spreadsheets:template": "`kind` is one of the three fixed import kinds, not an object id",
    "spreadsheets:upload": "`kind` is one of the three fixed import kinds, not an object id",
    "password_reset_confirm": "Django's signed one-time reset link, not an object id: a wrong one is the invalid-link page",
}

# The admin: for each registered model, which rows the city office's staff user (with the
# 市产改办 group's rights on enterprises, tasks and scoring) may open. Models of other apps
# are outside the group's rights: every row is a 403 for it.
ADMIN_STAFF_SCOPE = {
    "enterprises.region": lambda x: Q(pk=x.city.pk) | Q(parent=x.city),
    "enterprises.enterprise": lambda x: Q(county__parent=x.city),
    "enterprises.profile": lambda x: Q(enterprise__county__parent=x.city) | Q(region=x.city) | Q(region__parent=x.city),
    "tasks.period": lambda x: Q(city=x.city),
    "tasks.indicator": lambda x: Q(city=x.city),
    "tasks.assignment": lambda x: Q(county__parent=x.city),
    "tasks.checkin": lambda x: Q(assignment__county__parent=x.city),
    "tasks.evidence": lambda x: Q(checkin__assignment__county__parent=x.city),
    "tasks.reviewevent": lambda x: Q(checkin__assignment__county__parent=x.city),
    "tasks.enterprisemove": lambda x: Q(to_county__parent=x.city),
    "scoring.rankingsnapshot": lambda x: Q(period__city=x.city),
    "scoring.countyranking": lambda x: Q(snapshot__period__city=x.city),
    "scoring.enterpriseranking": lambda x: Q(county__parent=x.city),
    "scoring.scoringrule": lambda x: Q(period__city=x.city),
    "scoring.recomputerequest": lambda x: Q(period__city=x.city),
}
ADMIN_NO_RIGHTS = {
    "auth.group",
    "auth.user",
    "knox.authtoken",
    "notifications.notification",
    "notices.notice",
    "notices.need",
    "notices.examplecase",
    # the e-mail outbox: superusers only (addresses and texts of every city)
    "notifications.outgoingemail",
    # the account audit trail: offices read it on the account pages, the admin's is superusers'
    "accounts.accountevent",
    # django-axes' login attempt logs
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
}
_ADMIN_OBJECT = re.compile(r"^admin/(\w+)/(\w+)/<(?:path:object_id|id)>/")


def admin_model_of(route):
    match = _ADMIN_OBJECT.match(route)
    return apps.get_model(match.group(1), match.group(2)) if match else None


def registered_admin_labels():
    return {model._meta.label_lower for model in django_admin.site._registry}


ALL_PATTERNS = patterns_with_parameters()


# --- the tests -----------------------------------------------------------------------------


def test_every_pattern_with_a_parameter_is_probed_or_exempt():
    missing = [
        key
        for key, route in ALL_PATTERNS.items()
        if key not in SPECS and key not in EXEMPT and admin_model_of(route) is None and key != "admin:view_on_site"
    ]
    assert not missing, f"URL patterns with a parameter but no IDOR probe and no exemption: {missing}"
    stale = [key for key in list(SPECS) + list(EXEMPT) if key not in ALL_PATTERNS]
    assert not stale, f"probe specs of patterns that no longer exist: {stale}"
    unclassified = registered_admin_labels() - set(ADMIN_STAFF_SCOPE) - ADMIN_NO_RIGHTS
    assert not unclassified, f"admin models without a staff scope rule: {unclassified}"
    assert len(ALL_PATTERNS) > 40  # the walk sees the whole site


SITE_KEYS = sorted(key for key in ALL_PATTERNS if key in SPECS)


@pytest.mark.parametrize("key", SITE_KEYS)
def test_ids_outside_the_scope_are_refused_and_leak_nothing(db, w, key):
    spec = SPECS[key]
    route = ALL_PATTERNS[key]
    items = spec.items(w)
    assert any(not item.seen_by for item in items), "the world has no object outside every scope"
    before = fingerprint()
    probed = 0
    for role in spec.roles:
        client = client_for(w, role, api=spec.api)
        for item in items:
            if role in item.seen_by:
                continue
            url = url_of(route, **item.params)
            for method in METHODS:
                allowed = REFUSED if method == spec.method else REFUSED | {405}
                response = send(client, method, url, spec.probe_data() if method == spec.method else None)
                assert_refused(w, response, role, f"{role} {method} {url} ({item.label})", allowed)
                probed += 1
        for params in spec.guessed(w, route):
            url = url_of(route, **params)
            for method in {"GET", spec.method}:
                allowed = REFUSED if method == spec.method else REFUSED | {405}
                data = spec.probe_data() if method == spec.method else None
                assert_refused(w, send(client, method, url, data), role, f"{role} {method} {url} (guessed)", allowed)
                probed += 1
    assert probed
    assert fingerprint() == before, "a refused request changed something"

    # The controls: in scope, the same pattern works.
    if spec.controls is not None:
        controls = spec.controls(w)
    else:
        controls = [
            (role, item.params, None, spec.ok) for role in spec.roles if (item := _first(items, role)) is not None
        ]
    assert controls, "no in-scope control for this pattern"
    for role, params, data, statuses in controls:
        url = url_of(route, **params)
        method = "GET" if data is None else "POST"
        response = send(client_for(w, role, api=spec.api), method, url, data)
        assert response.status_code in statuses, f"control {role} {method} {url}: {response.status_code}"
        readable_text(response)


ADMIN_ROUTES = sorted(route for route in ALL_PATTERNS.values() if admin_model_of(route) is not None)


def _admin_rows(x, model, inside):
    label = model._meta.label_lower
    rows = model._default_manager.order_by("pk")
    if label in ADMIN_STAFF_SCOPE:
        rule = ADMIN_STAFF_SCOPE[label](x)
        rows = rows.filter(rule) if inside else rows.exclude(rule)
    elif inside:
        return []
    pks = [row.pk for row in rows]  # TokenProxy's admin id is its user's, not the key
    # The first, one in the middle and the last: neighbours of the city's own rows.
    return sorted({pks[0], pks[len(pks) // 2], pks[-1]}) if pks else []


def _admin_not_found(response):
    """The admin's answer to an id it will not show: 403, 404, or back to its index."""
    if response.status_code in REFUSED:
        return True
    final = response.redirect_chain[-1][0] if getattr(response, "redirect_chain", None) else response.get("Location")
    return response.status_code in (200, 302) and final == reverse("admin:index")


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_admin_ids_outside_the_staff_users_city_are_refused(db, w, route):
    model = admin_model_of(route)
    param = params_of(route)[0]
    staff = client_for(w, "staff")
    before = fingerprint()
    outside = _admin_rows(w, model, inside=False)
    if model._meta.label_lower in ADMIN_STAFF_SCOPE:
        assert outside, f"no {model.__name__} row outside the staff user's city"
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
    max_pk = last + 1 if isinstance(last, int) else "0" * 40
    for pk in outside:
        url = url_of(route, **{param: pk})
        response = staff.get(url, follow=True)
        assert _admin_not_found(response), f"staff GET {url}: {response.status_code} {response.redirect_chain}"
        assert_refused(w, response, "city", f"staff GET {url}", {response.status_code})
        response = staff.post(url, {"post": "yes"})
        # The bare <id>/ route only redirects to <id>/change/, without a lookup.
        bare_redirect = route.endswith("<path:object_id>/") and response.get("Location") == f"{url}change/"
        assert bare_redirect or _admin_not_found(response), f"staff POST {url}: {response.status_code}"
        assert_refused(w, response, "city", f"staff POST {url}", {response.status_code})
    for guess in (max_pk, *INT_GUESSES):
        url = url_of(route, **{param: guess})
        response = staff.get(url, follow=True)
        assert _admin_not_found(response), f"staff GET {url}: {response.status_code}"
        assert_refused(w, response, "city", f"staff GET {url}", {response.status_code})
    # Users without staff rights never get past the admin's login.
    response = client_for(w, "county").get(url_of(route, **{param: outside[0] if outside else 1}))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert fingerprint() == before

    # Controls: the staff user opens its own city's rows; the superuser opens any row.
    inside = _admin_rows(w, model, inside=True)
    if inside and route.endswith(("/change/", "/history/")):
        response = staff.get(url_of(route, **{param: inside[0]}))
        assert response.status_code == 200, f"staff control {route}: {response.status_code}"
    rows = model._default_manager.order_by("pk")
    first = rows.first()
    any_row = first.pk if first is not None else None
    superuser = client_for(w, "superuser")
    if any_row is None:
        # A log the world has no rows of (login attempts): the superuser reaches its list.
        assert model._meta.label_lower in ADMIN_NO_RIGHTS, f"the world has no {model.__name__}"
        opts = model._meta
        assert superuser.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
        return
    response = superuser.get(url_of(route, **{param: any_row}), follow=True)
    if route.endswith("/delete/"):
        assert response.status_code in (200, 403)  # read-only models refuse even superusers
    else:
        assert response.status_code == 200 and not _admin_not_found(response), f"superuser control {route}"


def test_admin_change_page_of_a_need_with_an_attachment_opens(db, w):
    """The admin shows the attachment's name, never a link to the stored file."""
    response = client_for(w, "superuser").get(reverse("admin:notices_need_change", args=[w.need_e11.pk]))
    assert response.status_code == 200
    assert w.need_e11.attachment.name not in response.content.decode()


def test_admin_view_on_site_of_another_citys_object_is_404(db, w):
    """admin/r/<content type>/<id>/ redirects to an object's page: none of ours has one,
    and a staff user gets nothing for another city's rows."""
    route = ALL_PATTERNS["admin:view_on_site"]
    staff = client_for(w, "staff")
    for obj in (w.f11, w.checkin_f21, w.need_f11, w.case_nj, w.notices["nj_city"]):
        content_type = ContentType.objects.get_for_model(obj)
        url = url_of(route, content_type_id=content_type.pk, object_id=obj.pk)
        response = staff.get(url, follow=True)
        assert_refused(w, response, "city", f"staff GET {url}")
    response = client_for(w, "liaison").get(url_of(route, content_type_id=1, object_id=1))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


# --- pages without an id: the query string's ids and everything on the page ----------------

LIST_KEYS = sorted(
    name
    for route, name in _walk(get_resolver().url_patterns)
    if name
    and not _PARAM.search(route)
    and not route.startswith("admin/")
    and name not in ("logout", "api:token", "api:schema", "api:docs", "login", "api:unknown")
)


@pytest.mark.parametrize("key", LIST_KEYS)
def test_pages_without_an_id_show_only_the_scope(db, w, key):
    """Dashboards, lists, rankings, exports, notifications and the API lists, with the
    query-string ids of another county and city: nothing outside the scope on the page, in
    the file or in the error message."""
    url = reverse(key)
    api = key.startswith("api:")
    outside = {
        "period": w.p2.pk,
        "county": w.d1.pk,
        "enterprise": w.f11.pk,
        "assignment": Assignment.objects.filter(period=w.p2).first().pk,
        "indicator": w.ind2.pk,
    }
    before = fingerprint()
    for role in ROLES:
        client = client_for(w, role, api=api)
        # The page as it is, then with every filter pointing outside the city.
        for query in ({}, outside, {"county": w.c2.pk}, {"period": "abc", "county": "-1"}):
            response = client.get(url, query, follow=not api)
            assert response.status_code != 500
            assert_refused(
                w, response, role, f"{role} GET {url}?{query}", {200, 400, 403, 404, 405}
            )
    assert fingerprint() == before


# --- admin forms: no posted id of another city is taken ------------------------------------


def _outside_ids(x, model):
    if model is x.users.staff.__class__:
        return [x.users.city2.pk, x.users.d1.pk, x.users.superuser.pk]
    if model is Region:  # a few rows of every level: the other city, its counties, the province
        return list(Region.objects.exclude(ADMIN_STAFF_SCOPE["enterprises.region"](x)).values_list("pk", flat=True))
    if model._meta.label_lower in ADMIN_STAFF_SCOPE:
        return _admin_rows(x, model, inside=False)
    return []


@pytest.mark.parametrize("label", sorted(ADMIN_STAFF_SCOPE))
def test_admin_forms_refuse_every_related_id_outside_the_staff_users_city(db, w, label):
    """Every add and change form the staff user may use: each foreign key or many-to-many,
    set to a row of the other city (or a superuser's account), is a form error; nothing changes."""
    from django import forms as django_forms

    from .test_admin import post_data

    model = apps.get_model(label)
    opts = model._meta
    staff = client_for(w, "staff")
    inside = _admin_rows(w, model, inside=True)
    urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_add")]
    urls += [reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk]) for pk in inside[:1]]
    before = fingerprint()
    probed = 0
    for url in urls:
        page = staff.get(url)
        if page.status_code == 403 or "adminform" not in (page.context or {}):
            continue  # a read-only model: no form to post
        form = page.context["adminform"].form
        base = post_data(form, page.context["inline_admin_formsets"])
        for name, field in form.fields.items():
            if not isinstance(field, django_forms.ModelChoiceField):
                continue
            for pk in _outside_ids(w, field.queryset.model):
                value = [str(pk)] if isinstance(field, django_forms.ModelMultipleChoiceField) else str(pk)
                response = staff.post(url, {**base, name: value})
                assert response.status_code == 200, f"{url} {name}={pk}: {response.status_code}"
                assert name in response.context["adminform"].form.errors, f"{url} {name}={pk} accepted"
                assert_refused(w, response, "city", f"staff POST {url} {name}={pk}", {200})
                probed += 1
    assert fingerprint() == before
    if label in ("enterprises.enterprise", "enterprises.profile", "enterprises.region", "tasks.period", "tasks.indicator"):
        assert probed, f"no related field of {label} was probed"
