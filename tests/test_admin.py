"""The Django admin: every model's pages load, workflow rows are read-only, the period
actions call the domain services, and the spreadsheet resources round-trip."""

import pytest
import tablib
from django.urls import reverse

from enterprises.models import Enterprise, Profile, Region
from enterprises.resources import EnterpriseResource
from scoring.models import CountyRanking, EnterpriseRanking, RankingSnapshot
from tasks import services
from tasks.models import Assignment, CheckIn, Evidence, Indicator, Period, ReviewEvent
from tasks.resources import IndicatorResource

from . import factories as f

ALL_MODELS = [
    Region,
    Enterprise,
    Profile,
    Period,
    Indicator,
    Assignment,
    CheckIn,
    Evidence,
    ReviewEvent,
    RankingSnapshot,
    CountyRanking,
    EnterpriseRanking,
]
READ_ONLY_MODELS = [Assignment, CheckIn, Evidence, ReviewEvent, RankingSnapshot, CountyRanking, EnterpriseRanking]


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def scored_world(world, assignment_of, pdf_upload, django_capture_on_commit_callbacks):
    """The world with one enterprise check-in submitted, approved and scored (so evidence,
    review events and a ranking snapshot exist)."""
    assignment = assignment_of(world.enterprises[0])
    checkin = services.submit_checkin(world.liaisons[0], assignment, "举办安康杯竞赛", [pdf_upload()])
    services.approve(world.county_users[0], checkin)
    with django_capture_on_commit_callbacks(execute=True):
        services.score(world.city_user, checkin, "8")
    world.checkin = checkin
    assert RankingSnapshot.objects.filter(period=world.period).exists()
    return world


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_page_load_for_a_superuser(admin_client, scored_world, model):
    obj = model.objects.order_by("pk").last()
    assert obj is not None
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "changelist"), {"q": "徐州"}).status_code == 200
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=lambda m: m.__name__)
def test_workflow_and_ranking_rows_cannot_be_added_or_deleted(admin_client, scored_world, model):
    obj = model.objects.order_by("pk").last()
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403


def test_review_event_cannot_be_changed_or_deleted(admin_client, scored_world):
    event = ReviewEvent.objects.filter(action=ReviewEvent.Action.SCORE).get()
    page = admin_client.get(admin_url(ReviewEvent, "change", event.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # shown read-only

    response = admin_client.post(admin_url(ReviewEvent, "change", event.pk), {"comment": "改掉", "points": "10"})
    assert response.status_code == 403
    assert admin_client.post(admin_url(ReviewEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(
        admin_url(ReviewEvent, "changelist"), {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    event.refresh_from_db()
    assert event.comment == "" and event.points == 8
    assert ReviewEvent.objects.count() == 3


def test_checkin_change_page_shows_evidence_and_history_without_file_urls(admin_client, scored_world):
    response = admin_client.get(admin_url(CheckIn, "change", scored_world.checkin.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "方案.pdf" in html
    assert "/media/" not in html


def test_period_action_generates_assignments(admin_client, world):
    Assignment.objects.all().delete()
    response = admin_client.post(
        admin_url(Period, "changelist"),
        {"action": "generate_assignments_action", "_selected_action": [world.period.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Assignment.objects.filter(period=world.period).count() == 6  # 4 enterprises + 2 county offices
    assert "6 check-in tasks created" in response.content.decode()


def test_period_action_recomputes_rankings(admin_client, world):
    response = admin_client.post(
        admin_url(Period, "changelist"),
        {"action": "recompute_rankings_action", "_selected_action": [world.period.pk]},
        follow=True,
    )
    assert response.status_code == 200
    snapshot = RankingSnapshot.objects.latest_for(world.period)
    assert snapshot is not None and snapshot.trigger == "admin"
    assert "rankings recomputed (2 counties, 4 enterprises)" in response.content.decode()


@pytest.mark.parametrize("model", [Enterprise, Assignment, CheckIn, ReviewEvent, EnterpriseRanking], ids=lambda m: m.__name__)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, scored_world, model, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = admin_url(model, "changelist")
    with CaptureQueriesContext(connection) as before:
        admin_client.get(url)
    for _ in range(5):  # more rows of every kind
        f.EnterpriseFactory(county=scored_world.counties[1])
    services.generate_assignments(scored_world.period)
    for assignment in Assignment.objects.filter(enterprise__isnull=False, state="not_submitted")[:3]:
        liaison = f.liaison(assignment.enterprise)
        services.submit_checkin(liaison, assignment, "说明", [f.pdf_upload()])
    from scoring.engine import compute_snapshot

    compute_snapshot(scored_world.period)
    with django_assert_max_num_queries(len(before)):
        assert admin_client.get(url).status_code == 200


def test_staff_city_office_user_sees_only_its_city(client, scored_world):
    other_city = f.RegionFactory.city(parent=scored_world.province, name="南京市", code="320100")
    outsider = f.EnterpriseFactory(county=f.RegionFactory.county(parent=other_city), name="南京某公司")
    user = scored_world.city_user
    user.is_staff = True
    user.is_superuser = True
    user.save()
    client.force_login(user)
    assert outsider.name in client.get(admin_url(Enterprise, "changelist")).content.decode()
    user.is_superuser = False
    user.save()
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_enterprise"))
    html = client.get(admin_url(Enterprise, "changelist")).content.decode()
    assert outsider.name not in html
    assert scored_world.enterprises[0].name in html
    assert client.get(admin_url(Enterprise, "change", outsider.pk)).status_code == 302  # "does not exist"


def test_enterprise_sheet_round_trips_and_updates_by_credit_code(world):
    resource = EnterpriseResource()
    dataset = resource.export(queryset=Enterprise.objects.all())
    assert dataset.headers[:3] == ["Unified social credit code", "Enterprise name", "County-level unit"]
    row = dataset.dict[0]
    assert row["County-level unit"] == world.enterprises[0].county.name

    data = tablib.Dataset(headers=dataset.headers)
    changed = list(dataset[0])
    changed[1] = "徐州云集港口集团有限公司"
    data.append(changed)
    result = EnterpriseResource().import_data(data, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert Enterprise.objects.get(credit_code=changed[0]).name == "徐州云集港口集团有限公司"
    assert Enterprise.objects.count() == 4


def test_enterprise_import_rejects_a_bad_credit_code(world):
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.all()[:1])
    data = tablib.Dataset(headers=dataset.headers)
    bad = list(dataset[0])
    bad[0] = "91320300MA1234567X"
    data.append(bad)
    result = EnterpriseResource().import_data(data, dry_run=True)
    assert result.has_validation_errors()
    assert Enterprise.objects.count() == 4


def test_indicator_sheet_round_trips_by_city_and_code(world):
    dataset = IndicatorResource().export(queryset=Indicator.objects.order_by("code"))
    assert dataset.headers[:2] == ["City", "Indicator code"]
    assert dataset.dict[0]["City"] == "徐州市"
    data = tablib.Dataset(headers=dataset.headers)
    row = list(dataset[0])
    row[dataset.headers.index("Max points")] = 15
    row[dataset.headers.index("Applies to size classes")] = "Large、Medium"
    data.append(row)
    result = IndicatorResource().import_data(data, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), result.invalid_rows
    indicator = Indicator.objects.get(city=world.city, code=row[1])
    assert indicator.max_points == 15
    assert indicator.applies_to_sizes == ["large", "medium"]
    assert Indicator.objects.count() == 2


def test_admin_enterprise_export_escapes_formulae(admin_client, world):
    from import_export.formats.base_formats import XLSX

    Enterprise.objects.filter(pk=world.enterprises[0].pk).update(name="=1+2")
    dataset = EnterpriseResource().export(queryset=Enterprise.objects.all())
    assert "'=1+2" in dataset["Enterprise name"]
    assert XLSX().export_data(dataset)  # writes without turning the name into a formula


@pytest.mark.parametrize("model", [Enterprise, Indicator], ids=lambda m: m.__name__)
def test_import_and_export_pages_load(admin_client, world, model):
    assert admin_client.get(admin_url(model, "import")).status_code == 200
    assert admin_client.get(admin_url(model, "export")).status_code == 200


def test_admin_import_of_enterprises_through_the_page(admin_client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    dataset = EnterpriseResource().export(queryset=Enterprise.objects.filter(pk=world.enterprises[0].pk))
    data = tablib.Dataset(headers=dataset.headers)
    row = list(dataset[0])
    row[1] = "徐州云集港口集团有限公司"
    data.append(row)
    upload = SimpleUploadedFile("企业.csv", data.export("csv").encode("utf-8"), content_type="text/csv")
    response = admin_client.post(
        admin_url(Enterprise, "import"), {"import_file": upload, "format": "0", "resource": "0"}
    )
    assert response.status_code == 200
    assert "confirm_form" in response.context_data or response.context.get("confirm_form")


def test_admin_xlsx_export_of_enterprises_keeps_numbers_and_escapes_names(admin_client, world):
    from io import BytesIO

    from import_export.formats.base_formats import XLSX
    from openpyxl import load_workbook

    Enterprise.objects.filter(pk=world.enterprises[0].pk).update(name="=1+2")
    url = admin_url(Enterprise, "export")
    form = admin_client.get(url).context["form"]
    xlsx_index = next(value for value, label in form.fields["format"].choices if str(label).lower() == "xlsx")
    data = {"format": xlsx_index, "resource": 0}
    data.update({name: "on" for name in form.fields if name.startswith("enterpriseresource_")})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX.CONTENT_TYPE
    sheet = load_workbook(BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    assert header[:2] == ["Unified social credit code", "Enterprise name"]
    names = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert "'=1+2" in names
    employees = [row[header.index("Employees")].value for row in sheet.iter_rows(min_row=2)]
    assert employees == [300, 300, 300, 300]


def test_notices_admins_show_a_staff_user_only_its_own_city(client, world):
    """Given rights on the notices app, a city office's staff user sees its city's notices
    and needs and only its own notifications, as on the site."""
    from django.contrib.auth.models import Permission

    from notices import services as notice_services
    from notices.models import Need, Notice, Notification

    other_city = f.RegionFactory.city(parent=world.province, name="南京市", code="320100")
    other_county = f.RegionFactory.county(parent=other_city, name="玄武区", code="320102")
    other_enterprise = f.EnterpriseFactory(county=other_county, name="南京某公司")
    other_office = f.city_office(other_city)
    notice_services.publish_notice(world.city_user, "徐州全市通知", "正文", "city")
    notice_services.publish_notice(other_office, "南京全市通知", "正文", "city")
    notice_services.report_need(world.liaisons[0], Need.Category.values[0], "徐州企业的需求")
    notice_services.report_need(f.liaison(other_enterprise), Need.Category.values[0], "南京企业的需求")
    Notification.objects.create(recipient=other_office, kind=Notification.Kind.values[0], text="南京的提醒")

    user = world.city_user
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_notice", "view_need", "view_notification"])
    )
    client.force_login(user)
    notices = client.get(admin_url(Notice, "changelist")).content.decode()
    needs = client.get(admin_url(Need, "changelist")).content.decode()
    notifications = client.get(admin_url(Notification, "changelist")).content.decode()
    assert "徐州全市通知" in notices and "南京全市通知" not in notices
    assert world.enterprises[0].name in needs and "南京某公司" not in needs
    assert "南京的提醒" not in notifications
    other_notice = Notice.objects.get(title="南京全市通知")
    assert client.get(admin_url(Notice, "change", other_notice.pk)).status_code == 302  # "does not exist"
