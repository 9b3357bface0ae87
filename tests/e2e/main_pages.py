"""Every role's main pages, for the browser tests that sweep them (phone layout, accessibility).

`main_pages(world)` fills the conftest world with what those pages show (a scored check-in
with a PDF and an image, one waiting for the county, one waiting for the city, a returned one,
a county office's own check-in, a ranking snapshot, a notice, a need with a reply, a
good-practice case, the notifications the workflow sends) and returns, per role, the pages
that user reaches daily as (label, path): every link of the main navigation plus the detail
pages behind them.

    pages = main_pages(world)            # {"liaison": [("dashboard", "/dashboard/enterprise/"), ...], ...}
    for label, url in visit_main_pages(page, "county", pages):   # logs in, opens each page
        ...                                                      # the page is loaded here

Roles: "liaison" (ent0001, of 徐州云集港口有限公司 in 鼓楼区), "county" (county01, 鼓楼区),
"city" (city, 徐州市), "observer" (observer, 鼓楼区). Use it in tests marked
`django_db(transaction=True)` (the live server must see the rows).
"""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import onboarding
from notices import cases, needs, publishing
from notices.models import Need, Notice
from scoring.models import RankingSnapshot
from scoring.recompute import recompute_now
from tasks import services
from tasks.models import Assignment

from ..factories import IndicatorFactory, image_bytes, pdf_upload, real_pdf_bytes

ROLES = ("liaison", "county", "city", "observer")
USERNAMES = {"liaison": "ent0001", "county": "county01", "city": "city", "observer": "observer"}


def _assignment(world, enterprise=None, county=None):
    if enterprise is not None:
        return Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=enterprise)
    return Assignment.objects.get(period=world.period, indicator=world.office_ind, county=county, enterprise__isnull=True)


def populate(world):
    """Put on the world's pages what a user sees on an ordinary day; returns the objects the
    detail pages show (a SimpleNamespace-like dict)."""
    e11, e12, e21, e22 = world.enterprises
    c1, _c2 = world.counties
    l11, l12, l21, l22 = world.liaisons
    county1, county2 = world.county_users
    city = world.city_user
    # A second enterprise indicator, not started: the liaison's submission form.
    open_indicator = IndicatorFactory(city=world.city, code="B02", title="建立职工技能等级认定和晋升通道", max_points=8)
    services.generate_assignments(world.period)
    description = "已组织开展劳动技能竞赛，参赛职工120人，评出技术能手8名，详见附件方案与现场照片。"

    # e11: scored (evidence: a real two-page PDF and a photo, so previews render), and so a
    # good-practice case and a ranking.
    scored = services.submit_checkin(
        l11, _assignment(world, e11), description, [
            SimpleUploadedFile("竞赛方案.pdf", real_pdf_bytes(pages=2), content_type="application/pdf"),
            SimpleUploadedFile("现场照片.jpg", image_bytes("JPEG", size=(800, 600)), content_type="image/jpeg"),
        ]
    )
    scored = services.approve(county1, scored, "材料齐全，同意上报。")
    scored = services.score(city, scored, "8", "组织有力，成效明显。")
    # e12: waiting for its county office; e21: waiting for the city office; e22: returned.
    waiting_county = services.submit_checkin(l12, _assignment(world, e12), description, [pdf_upload()])
    waiting_city = services.submit_checkin(l21, _assignment(world, e21), description, [pdf_upload()])
    waiting_city = services.approve(county2, waiting_city, "同意上报。")
    returned = services.submit_checkin(l22, _assignment(world, e22), description, [pdf_upload()])
    returned = services.return_checkin(county2, returned, "缺少现场照片，请补充后重新提交。")
    # The county office's own task, waiting for the city office.
    office = services.submit_checkin(
        county1, _assignment(world, county=c1), "已组织产改观察员开展督查调研两次。", [pdf_upload("督查报告.pdf")]
    )
    if not RankingSnapshot.objects.filter(period=world.period).exists():
        recompute_now(world.period, trigger="test")

    notice = publishing.publish_notice(
        city,
        "关于开展2026年度劳动技能竞赛的通知",
        "请各企业于9月底前组织一次劳动技能竞赛，并在打卡系统中上传竞赛方案和现场照片。",
        Notice.Audience.CITY,
    )
    need = needs.report_need(l11, Need.Category.TRAINING, "希望县产改办协调数控车工技能培训名额，约20人。")
    need = needs.reply_need(county1, need, "已与人社局对接，下月开班，名额5个。")
    case = cases.mark_example_case(city, scored, "以赛促学，技能竞赛带动全员提升", "企业连续三年组织劳动技能竞赛。")
    return {
        "open_task": Assignment.objects.get(period=world.period, indicator=open_indicator, enterprise=e11),
        "scored": scored,
        "waiting_county": waiting_county,
        "waiting_city": waiting_city,
        "returned": returned,
        "office": office,
        "notice": notice,
        "need": need,
        "case": case,
    }


def _common(objects, *, notice=True):
    """Pages every role with a profile reaches: rankings, the two-way channels, the bell, the
    password (an observer receives no notices, so has no notice to open)."""
    pages = [
        ("rankings", reverse("scoring:rankings")),
        ("notices", reverse("notices:notice_list")),
        ("notice", reverse("notices:notice_detail", args=[objects["notice"].pk])),
        ("needs", reverse("notices:need_list")),
        ("cases", reverse("notices:case_list")),
        ("case", reverse("notices:case_detail", args=[objects["case"].pk])),
        ("notifications", reverse("notices:notification_list")),
        ("password", reverse("password_change")),
        ("my-account", reverse("accounts:me")),
    ]
    return pages if notice else [item for item in pages if item[0] != "notice"]


def main_pages(world):
    """Fill the world (populate) and return {role: [(label, path), ...]} for ROLES."""
    objects = populate(world)
    e11 = world.enterprises[0]
    c1 = world.counties[0]
    scored, need = objects["scored"], objects["need"]
    common = _common(objects)
    need_detail = ("need", reverse("notices:need_detail", args=[need.pk]))
    enterprise_ranking = ("enterprise-ranking", reverse("scoring:enterprise_detail", args=[e11.pk]))
    county_ranking = ("county-ranking", reverse("scoring:county_detail", args=[c1.pk]))
    # 账号管理: an account of the county's with its records, and the city's sheet of a reset.
    account_detail = ("account", reverse("accounts:detail", args=[world.liaisons[1].pk]))
    onboarding.disable_account(world.county_users[0], world.liaisons[1].pk)
    sheet = onboarding.reset_password(world.city_user, world.liaisons[3].pk)
    accounts = [
        ("accounts", reverse("accounts:list")),
        account_detail,
        ("account-new", reverse("accounts:create")),
        ("account-reset", reverse("accounts:action", args=[world.liaisons[1].pk, "reset"])),
        ("account-events", reverse("accounts:events")),
    ]
    return {
        "liaison": [
            ("dashboard", reverse("dashboards:enterprise")),
            ("tasks", reverse("tasks:assignment_list")),
            ("task", reverse("tasks:assignment_detail", args=[scored.assignment_id])),
            ("task-to-submit", reverse("tasks:assignment_detail", args=[objects["open_task"].pk])),
            ("checkin", reverse("tasks:checkin_detail", args=[scored.pk])),
            enterprise_ranking,
            need_detail,
            *common,
        ],
        "county": [
            ("dashboard", reverse("dashboards:county")),
            ("tasks", reverse("tasks:assignment_list")),
            ("task", reverse("tasks:assignment_detail", args=[objects["office"].assignment_id])),
            ("dashboard-tasks", reverse("dashboards:assignment_list")),
            ("review-queue", reverse("tasks:review_queue")),
            ("checkin", reverse("tasks:checkin_detail", args=[objects["waiting_county"].pk])),
            ("checkin-scored", reverse("tasks:checkin_detail", args=[scored.pk])),
            ("enterprises", reverse("dashboards:enterprise_list")),
            county_ranking,
            enterprise_ranking,
            need_detail,
            ("spreadsheets", reverse("spreadsheets:index")),
            *accounts,
            *common,
        ],
        "city": [
            ("dashboard", reverse("dashboards:city")),
            ("review-queue", reverse("tasks:review_queue")),
            ("checkin", reverse("tasks:checkin_detail", args=[objects["waiting_city"].pk])),
            ("checkin-office", reverse("tasks:checkin_detail", args=[objects["office"].pk])),
            ("checkin-scored", reverse("tasks:checkin_detail", args=[scored.pk])),
            ("tasks", reverse("tasks:assignment_list")),
            ("dashboard-tasks", reverse("dashboards:assignment_list")),
            ("enterprises", reverse("dashboards:enterprise_list")),
            county_ranking,
            enterprise_ranking,
            ("rule", reverse("scoring:rule")),
            need_detail,
            ("spreadsheets", reverse("spreadsheets:index")),
            ("unlock", reverse("unlock_accounts")),
            *accounts,
            ("account-sheet", reverse("accounts:sheet", args=[sheet.pk])),
            *common,
        ],
        "observer": [
            ("tasks", reverse("tasks:assignment_list")),
            county_ranking,
            enterprise_ranking,
            *_common(objects, notice=False),
        ],
    }


def visit_main_pages(page, role, pages, login=None):
    """Log `page` in as the role's user and open each of its main pages in turn, yielding
    (label, path) once each page has loaded; fails on any answer but 200."""
    from .conftest import do_login

    (login or do_login)(page, USERNAMES[role])
    for label, path in pages[role]:
        response = page.goto(page.live_server_url + path)
        assert response is not None and response.status == 200, f"{role} {label} {path}: {response and response.status}"
        yield label, path


__all__ = ["ROLES", "USERNAMES", "main_pages", "populate", "visit_main_pages"]
