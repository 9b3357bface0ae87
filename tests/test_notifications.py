"""In-app notifications from the check-in workflow, deadline reminders, email, and the bell."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notices.models import DeadlineReminder
from notices.reminders import send_deadline_reminders
from notifications.models import Notification
from tasks import services
from tasks.models import Period

from . import factories as f

Kind = Notification.Kind


def kinds_of(user):
    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


@pytest.fixture
def submitted(world, assignment_of):
    """An enterprise check-in of e11 (county c1) waiting for county review."""
    return services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "已开展技能竞赛", [f.pdf_upload()])


def test_a_submission_notifies_nobody_it_waits_in_the_county_queue(world, submitted):
    # What waits for a reviewer is a count on the queue, not a notification per item (issue 16).
    assert Notification.objects.count() == 0


def test_a_county_approval_notifies_nobody(world, submitted):
    services.approve(world.county_users[0], submitted, "同意")
    assert Notification.objects.count() == 0


def test_a_county_office_check_in_notifies_nobody(world, assignment_of):
    services.submit_checkin(world.county_users[0], assignment_of(world.counties[0]), "督查调研", [f.pdf_upload()])
    assert Notification.objects.count() == 0


def test_a_return_tells_the_submitter_with_the_reason(world, submitted):
    services.return_checkin(world.county_users[0], submitted, "缺少获奖名单")
    note = Notification.objects.get(recipient=world.liaisons[0])
    assert note.kind == Kind.RETURNED
    assert "缺少获奖名单" in note.text
    assert "鼓楼区产改办" in note.text  # who returned it, by office name, not the username
    assert "county01" not in note.text
    assert note.subject == f"assignment:{submitted.assignment_id}"
    assert note.link == reverse("tasks:assignment_detail", args=[submitted.assignment_id])
    assert kinds_of(world.liaisons[1]) == []  # another enterprise's liaison hears nothing


def test_a_score_tells_the_submitter_the_points(world, submitted):
    services.approve(world.county_users[0], submitted)
    services.score(world.city_user, submitted, "8.5")
    note = Notification.objects.get(recipient=world.liaisons[0])
    assert note.kind == Kind.SCORED
    assert "8.5" in note.text
    assert "徐州市产改办" in note.text


def test_an_email_goes_out_after_commit_when_the_user_has_an_address(
    world, submitted, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_checkin(world.county_users[0], submitted, "请补充现场照片")
    assert [m.to for m in mail.outbox] == [[world.liaisons[0].email]]
    assert "请补充现场照片" in mail.outbox[0].body
    assert Notification.objects.get(recipient=world.liaisons[0]).emailed_at is not None


def test_no_email_without_an_address_and_none_before_commit(world, submitted, django_capture_on_commit_callbacks):
    world.liaisons[0].email = ""
    world.liaisons[0].save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.return_checkin(world.county_users[0], submitted, "请补充")
    assert mail.outbox == []  # nothing is sent inside the transaction
    for callback in callbacks:
        callback()
    assert mail.outbox == []
    assert kinds_of(world.liaisons[0]) == [Kind.RETURNED]


# --- deadline reminders ---------------------------------------------------------------


def _deadline_in(world, delta):
    Period.objects.filter(pk=world.period.pk).update(submission_deadline=timezone.now() + delta)


def test_reminders_go_once_per_threshold_even_when_the_job_runs_twice(
    world, assignment_of, django_capture_on_commit_callbacks
):
    services.submit_checkin(world.liaisons[1], assignment_of(world.enterprises[1]), "已完成", [f.pdf_upload()])
    Notification.objects.all().delete()
    _deadline_in(world, datetime.timedelta(days=5))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = send_deadline_reminders()
        second = send_deadline_reminders()

    # 3 enterprises still owe B01 and 2 county offices owe X01; e12 has submitted.
    assert (first, second) == (5, 0)
    reminded = set(Notification.objects.filter(kind=Kind.DEADLINE).values_list("recipient__username", flat=True))
    assert reminded == {"ent0001", "ent0003", "ent0004", "county01", "county02"}
    assert Notification.objects.filter(kind=Kind.DEADLINE).count() == 5
    assert DeadlineReminder.objects.filter(threshold=7).count() == 5
    assert len(mail.outbox) == 5

    # A day before the deadline the 1-day reminder goes, once.
    now = timezone.now() + datetime.timedelta(days=4, hours=12)
    assert send_deadline_reminders(now=now) == 5
    assert send_deadline_reminders(now=now) == 0
    assert Notification.objects.filter(kind=Kind.DEADLINE).count() == 10


def test_returned_tasks_are_reminded_and_closed_periods_are_not(world, assignment_of):
    checkin = services.submit_checkin(world.liaisons[0], assignment_of(world.enterprises[0]), "说明", [f.pdf_upload()])
    services.return_checkin(world.county_users[0], checkin, "补充材料")
    _deadline_in(world, datetime.timedelta(hours=20))
    send_deadline_reminders()
    assert DeadlineReminder.objects.filter(recipient=world.liaisons[0], threshold=1).exists()

    Notification.objects.all().delete()
    DeadlineReminder.objects.all().delete()
    Period.objects.filter(pk=world.period.pk).update(is_closed=True)
    assert send_deadline_reminders() == 0
    # Far from the deadline nothing goes either.
    Period.objects.filter(pk=world.period.pk).update(is_closed=False)
    _deadline_in(world, datetime.timedelta(days=30))
    assert send_deadline_reminders() == 0


def test_the_reminder_job_makes_a_constant_number_of_queries(world, django_assert_max_num_queries):
    for i in range(20):
        f.liaison(f.EnterpriseFactory(county=world.counties[i % 2]), username=f"extra{i:02d}")
    from tasks.services import generate_assignments

    generate_assignments(world.period)
    _deadline_in(world, datetime.timedelta(days=3))
    with django_assert_max_num_queries(12):
        assert send_deadline_reminders() == 26


def test_the_celery_task_runs_the_reminders(world):
    from notices.celery_tasks import send_deadline_reminders as task

    _deadline_in(world, datetime.timedelta(days=6))
    assert task.delay().get() == 6
    assert task.delay().get() == 0


# --- the bell and the notification list -----------------------------------------------------


def test_bell_count_and_list_mark_read(client, world, submitted):
    services.return_checkin(world.county_users[0], submitted, "缺少获奖名单")
    liaison = world.liaisons[0]
    client.force_login(liaison)
    response = client.get(reverse("notices:notification_list"))
    assert response.status_code == 200
    assert response.context["unread_notifications"] == 1
    assert 'data-testid="unread-count">1<' in response.content.decode()

    note = Notification.objects.get(recipient=liaison)
    response = client.get(reverse("notices:notification_open", args=[note.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("tasks:assignment_detail", args=[submitted.assignment_id])
    note.refresh_from_db()
    assert note.read_at is not None


def test_opening_a_notification_never_redirects_off_site(client, world):
    user = world.liaisons[0]
    for link in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        note = Notification.objects.create(recipient=user, kind=Kind.NOTICE, text="x", link=link)
        client.force_login(user)
        response = client.get(reverse("notices:notification_open", args=[note.pk]))
        assert response["Location"] == reverse("notices:notification_list")


def test_someone_elses_notification_is_404(client, world, submitted):
    services.return_checkin(world.county_users[0], submitted, "缺少获奖名单")
    note = Notification.objects.get(recipient=world.liaisons[0])
    client.force_login(world.liaisons[1])
    assert client.get(reverse("notices:notification_open", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_all_read(client, world):
    user = world.liaisons[0]
    Notification.objects.bulk_create([Notification(recipient=user, kind=Kind.NOTICE, text=str(i)) for i in range(3)])
    Notification.objects.create(recipient=world.liaisons[1], kind=Kind.NOTICE, text="other")
    client.force_login(user)
    assert client.get(reverse("notices:mark_all_read")).status_code == 405
    response = client.post(reverse("notices:mark_all_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=world.liaisons[1], read_at__isnull=True).count() == 1


def test_the_unread_count_is_one_query_per_request(rf, world):
    from notifications.context_processors import unread_notifications

    user = world.liaisons[0]
    Notification.objects.create(recipient=user, kind=Kind.NOTICE, text="a")
    request = rf.get("/")
    request.user = user
    context = unread_notifications(request)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert int(str(context["unread_notifications"])) == 1
        assert unread_notifications(request)["unread_notifications"] == 1
    assert len(queries) == 1


@pytest.mark.parametrize("rows", [2, 20])
def test_the_notification_list_runs_a_constant_number_of_queries(client, world, rows, django_assert_max_num_queries):
    user = world.liaisons[0]
    Notification.objects.bulk_create(
        [Notification(recipient=user, kind=Kind.SCORED, text=f"第{i}条", link="/tasks/") for i in range(rows)]
    )
    client.force_login(user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("notices:notification_list"))
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == rows


def test_the_bell_template_shows_the_unread_count(client, world):
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    user = world.liaisons[0]
    Notification.objects.bulk_create([Notification(recipient=user, kind=Kind.NOTICE, text="x") for _ in range(3)])
    request = RequestFactory().get("/")
    request.user = user
    html = render_to_string("notifications/bell.html", request=request)
    assert 'data-testid="unread-count">3<' in html
    assert reverse("notices:notification_list") in html
