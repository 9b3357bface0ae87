"""Notifications that mean something (issue 16): no notification per item waiting (a count on
the review queue's link instead), the reviewers' daily digest, mark-read when the thing is
acted on, the grouped and filtered list, and the e-mail preference (immediately, a daily
digest, none) through the outbox."""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notices import needs, publishing
from notifications import digests
from notifications import services as notification_services
from notifications.models import Digest, EmailPreference, Notification, OutgoingEmail
from notifications.selectors import group_by_day
from tasks import batch, services
from tasks import digest as review_digest
from tasks.models import Assignment, CheckIn, CheckInState, ReviewEvent

from . import factories as f

Kind = Notification.Kind
S = CheckInState
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day, hour):
    """An aware time on 2026-12-<day> at <hour>:00, Shanghai time (the portal's zone)."""
    return datetime.datetime(2026, 12, day, hour, tzinfo=SHANGHAI)


def submit(world, index=0):
    liaison, enterprise = world.liaisons[index], world.enterprises[index]
    assignment = Assignment.objects.get(period=world.period, indicator=world.ind, enterprise=enterprise)
    return services.submit_checkin(liaison, assignment, "已开展技能竞赛", [f.pdf_upload()])


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response


# --- no flood: a batch of 200 approvals writes no notification ------------------------------


def _pending_county_checkins(world, count):
    """`count` check-ins waiting for the first county office, written directly (fast)."""
    enterprises = [f.EnterpriseFactory(county=world.counties[0]) for _ in range(count)]
    submitter = world.liaisons[0]
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(period=world.period, indicator=world.ind, enterprise=e, county=e.county, state=S.PENDING_COUNTY_REVIEW)
            for e in enterprises
        ]
    )
    checkins = CheckIn.objects.bulk_create(
        [
            CheckIn(assignment=a, version=1, description="说明", state=S.PENDING_COUNTY_REVIEW, submitted_by=submitter)
            for a in assignments
        ]
    )
    ReviewEvent.objects.bulk_create(
        [
            ReviewEvent(checkin=c, action=ReviewEvent.Action.SUBMIT, actor=submitter, actor_role="enterprise_liaison",
                        from_state="", to_state=S.PENDING_COUNTY_REVIEW)
            for c in checkins
        ]
    )
    return checkins


def test_a_batch_of_200_approvals_writes_no_notification_and_the_city_badge_counts_them(client, world):
    checkins = _pending_county_checkins(world, 200)
    result = batch.batch_approve(world.county_users[0], [c.pk for c in checkins], "同意")
    assert all(item.ok for item in result.items) and len(result.items) == 200
    assert Notification.objects.count() == 0
    assert OutgoingEmail.objects.count() == 0
    response = page(client, world.city_user, reverse("tasks:assignment_list"))
    assert response.context["review_queue_count"] == 200
    assert 'data-testid="queue-count"><span class="visually-hidden">' in response.content.decode()


# --- the queue's count on its nav link ---------------------------------------------------------


def test_the_queue_badge_is_the_queue_length_in_scope_and_only_for_reviewers(client, world):
    first, second = submit(world, 0), submit(world, 2)  # c1's and c2's
    submit(world, 1)
    services.approve(world.county_users[1], second)  # c2's goes on to the city

    assert page(client, world.county_users[0], reverse("tasks:assignment_list")).context["review_queue_count"] == 2
    assert page(client, world.county_users[1], reverse("tasks:assignment_list")).context["review_queue_count"] == 0
    city = page(client, world.city_user, reverse("tasks:assignment_list"))
    assert city.context["review_queue_count"] == 1
    assert 'data-testid="queue-count"' in city.content.decode()
    # The queue page shows the same number it lists.
    queue = page(client, world.county_users[0], reverse("tasks:review_queue"))
    assert queue.context["review_queue_count"] == queue.context["total"] == 2
    # Roles without a queue: no count, and no query for one.
    for user in world.liaisons[0], world.observer:
        response = page(client, user, reverse("tasks:assignment_list"))
        assert not response.context["review_queue_count"]
        assert 'data-testid="queue-count"' not in response.content.decode()
    assert first.pk


def test_the_badge_follows_every_step_of_the_workflow(world):
    from enterprises.models import Profile
    from tasks.selectors import queue_total, review_queue_count

    def both(user):
        profile = Profile.for_user(user)
        return review_queue_count(user, profile), queue_total(user, profile)

    county, city = world.county_users[0], world.city_user
    first, second = submit(world, 0), submit(world, 1)
    assert both(county) == (2, 2) and both(city) == (0, 0)
    services.approve(county, first)
    services.return_checkin(county, second, "请补充")
    assert both(county) == (0, 0) and both(city) == (1, 1)
    services.submit_checkin(world.liaisons[1], second.assignment, "已补充", [f.pdf_upload()])  # version 2
    services.score(city, first, "8")
    assert both(county) == (1, 1) and both(city) == (0, 0)
    services.reopen(city, first, "重新评估")
    assert both(city) == (1, 1)


def test_the_queue_badge_costs_one_small_query_per_request(rf, world):
    from tasks.context_processors import review_queue_count

    submit(world, 0)
    request = rf.get("/")
    request.user = world.county_users[0]
    context = review_queue_count(request)
    with CaptureQueriesContext(connection) as queries:
        assert int(str(context["review_queue_count"])) == 1
        assert review_queue_count(request)["review_queue_count"] == 1
    # One small SUM over the progress counters (plus the profile when the user object had
    # none), never a COUNT over the check-ins.
    assert len([q for q in queries if "indicatorprogress" in q["sql"]]) == 1
    assert not [q for q in queries if "tasks_checkin" in q["sql"]]
    assert len(queries) <= 2


# --- the reviewers' daily digest ------------------------------------------------------------------


def test_the_digest_tells_a_reviewer_what_is_new_once_a_day(world, settings):
    settings.REVIEW_DIGEST_HOUR = 8
    submit(world, 0)
    today = timezone.localdate()
    morning = datetime.datetime.combine(today, datetime.time(8), tzinfo=SHANGHAI) + datetime.timedelta(days=1)

    assert review_digest.send_review_digests(now=morning - datetime.timedelta(minutes=1)) == 0  # before the hour
    assert review_digest.send_review_digests(now=morning) == 1
    assert review_digest.send_review_digests(now=morning + datetime.timedelta(hours=3)) == 0  # the same day again
    note = Notification.objects.get(recipient=world.county_users[0])
    assert note.kind == Kind.DIGEST and note.subject == "queue" and note.link == reverse("tasks:review_queue")
    assert note.text == f"有1条新打卡等待您审核（共1条待审核，最早的自{today.year}年{today.month}月{today.day}日起等待）。"
    digest = Digest.objects.get(recipient=world.county_users[0])
    assert (digest.day, digest.new_count, digest.total_count, digest.notification) == (
        morning.date(), 1, 1, note
    )
    # Nobody else had anything waiting (the other county, the city): no digest for them.
    assert Notification.objects.count() == 1

    # The next day nothing new has arrived: nothing is sent, although one still waits.
    assert review_digest.send_review_digests(now=morning + datetime.timedelta(days=1)) == 0
    # Two arrive after the last digest: the next one counts those two, and all three waiting.
    Digest.objects.update(covers_until=timezone.now())
    submit(world, 1)
    other = f.EnterpriseFactory(county=world.counties[0])
    assignment = Assignment.objects.create(period=world.period, indicator=world.ind, enterprise=other, county=other.county)
    services.submit_checkin(f.liaison(other), assignment, "说明", [f.pdf_upload()])
    assert review_digest.send_review_digests(now=morning + datetime.timedelta(days=2)) == 1
    latest = Notification.objects.filter(recipient=world.county_users[0]).order_by("-pk").first()
    assert latest.text.startswith("有2条新打卡等待您审核（共3条待审核")
    # The earlier digest, still unread, is superseded by the new one.
    note.refresh_from_db()
    assert note.read_at is not None


def test_the_city_digest_counts_what_counties_forwarded(world, settings):
    settings.REVIEW_DIGEST_HOUR = 0
    checkin = submit(world, 0)
    services.approve(world.county_users[0], checkin)
    assert review_digest.send_review_digests() == 1
    # The county office's queue is empty again: only the city hears.
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["city"]


def test_the_celery_job_runs_the_review_digests(world, settings):
    from tasks.celery_tasks import send_review_digests

    settings.REVIEW_DIGEST_HOUR = 0
    submit(world, 0)
    assert send_review_digests.delay().get() == 1
    assert send_review_digests.delay().get() == 0


# --- marked read when the thing is acted on --------------------------------------------------------


def unread(user, kind):
    return Notification.objects.filter(recipient=user, kind=kind, read_at__isnull=True).count()


def test_opening_the_returned_task_marks_its_return_read(client, world):
    checkin = submit(world, 0)
    services.return_checkin(world.county_users[0], checkin, "缺少获奖名单")
    liaison = world.liaisons[0]
    assert unread(liaison, Kind.RETURNED) == 1
    # Another page does not.
    page(client, liaison, reverse("tasks:assignment_list"))
    assert unread(liaison, Kind.RETURNED) == 1
    response = page(client, liaison, reverse("tasks:assignment_detail", args=[checkin.assignment_id]))
    assert unread(liaison, Kind.RETURNED) == 0
    assert response.context["unread_notifications"] == 0  # the bell already shows it


def test_resubmitting_marks_the_return_read_for_whoever_got_it(world):
    checkin = submit(world, 0)
    services.return_checkin(world.county_users[0], checkin, "缺少获奖名单")
    colleague = f.liaison(world.enterprises[0], username="ent0001b")
    services.submit_checkin(colleague, checkin.assignment, "已补充", [f.pdf_upload()])
    assert unread(world.liaisons[0], Kind.RETURNED) == 0


def test_opening_a_scored_task_marks_its_score_read_and_only_that_tasks(client, world):
    checkins = [submit(world, 0)]
    checkins[0].assignment.refresh_from_db()
    for checkin in checkins:
        services.approve(world.county_users[0], checkin)
        services.score(world.city_user, checkin, "8")
    other = Notification.objects.create(
        recipient=world.liaisons[0], kind=Kind.SCORED, text="另一项", subject="assignment:999999"
    )
    page(client, world.liaisons[0], reverse("tasks:assignment_detail", args=[checkins[0].assignment_id]))
    assert unread(world.liaisons[0], Kind.SCORED) == 1
    other.refresh_from_db()
    assert other.read_at is None


def test_opening_a_notice_marks_its_notification_read(client, world):
    notice = publishing.publish_notice(world.city_user, "关于开展劳动技能竞赛的通知", "各企业：……", "city")
    liaison = world.liaisons[0]
    note = Notification.objects.get(recipient=liaison, kind=Kind.NOTICE)
    assert note.subject == f"notice:{notice.pk}"
    assert note.text == "徐州市产改办 发布新通知：关于开展劳动技能竞赛的通知"  # signed by the office
    page(client, liaison, reverse("notices:notice_detail", args=[notice.pk]))
    note.refresh_from_db()
    assert note.read_at is not None
    assert unread(world.liaisons[1], Kind.NOTICE) == 1  # someone else's stays


def test_a_need_page_marks_its_need_notifications_read(client, world):
    need = needs.report_need(world.liaisons[0], "policy", "希望组织职业技能培训")
    county = world.county_users[0]
    assert unread(county, Kind.NEED) == 1
    needs.reply_need(county, need, "已联系人社局")
    liaison = world.liaisons[0]
    assert unread(liaison, Kind.NEED) == 1
    page(client, county, reverse("notices:need_detail", args=[need.pk]))
    page(client, liaison, reverse("notices:need_detail", args=[need.pk]))
    assert unread(county, Kind.NEED) == unread(liaison, Kind.NEED) == 0


def test_opening_the_queue_marks_the_digest_read(client, world, settings):
    settings.REVIEW_DIGEST_HOUR = 0
    submit(world, 0)
    review_digest.send_review_digests()
    county = world.county_users[0]
    assert unread(county, Kind.DIGEST) == 1
    page(client, county, reverse("tasks:review_queue"))
    assert unread(county, Kind.DIGEST) == 0


def test_the_task_list_of_a_period_marks_its_deadline_reminders_read(client, world):
    from notices.reminders import send_deadline_reminders
    from tasks.models import Period

    Period.objects.filter(pk=world.period.pk).update(submission_deadline=timezone.now() + datetime.timedelta(days=5))
    send_deadline_reminders()
    liaison = world.liaisons[0]
    assert unread(liaison, Kind.DEADLINE) == 1
    page(client, liaison, reverse("tasks:assignment_list") + f"?period={world.period.pk}")
    assert unread(liaison, Kind.DEADLINE) == 0


def test_a_page_writes_nothing_when_nothing_is_unread(client, world, django_assert_num_queries):
    checkin = submit(world, 0)
    client.force_login(world.liaisons[0])
    url = reverse("tasks:assignment_detail", args=[checkin.assignment_id])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert not [q for q in queries if q["sql"].startswith("UPDATE") and "notification" in q["sql"]]


# --- the list: grouped, filtered, paginated ---------------------------------------------------------


def test_the_list_groups_by_day_and_collapses_many_about_one_thing(world):
    user = world.liaisons[0]
    rows = [
        Notification(recipient=user, kind=Kind.NEED, text="状态1", subject="need:1", created_at=at(3, 9)),
        Notification(recipient=user, kind=Kind.NEED, text="状态2", subject="need:1", created_at=at(3, 10)),
        Notification(recipient=user, kind=Kind.NEED, text="状态3", subject="need:1", created_at=at(3, 11)),
        Notification(recipient=user, kind=Kind.NEED, text="另一需求", subject="need:2", created_at=at(3, 12)),
        Notification(recipient=user, kind=Kind.NOTICE, text="通知", subject="notice:1", created_at=at(2, 9)),
        Notification(recipient=user, kind=Kind.NEED, text="昨天的", subject="need:1", created_at=at(2, 8)),
        Notification(recipient=user, kind=Kind.DEADLINE, text="旧提醒", subject="", created_at=at(2, 7)),
        Notification(recipient=user, kind=Kind.DEADLINE, text="旧提醒2", subject="", created_at=at(2, 6)),
    ]
    Notification.objects.bulk_create(rows)
    days = group_by_day(Notification.objects.filter(recipient=user).order_by("-created_at"))
    assert [d.day.day for d in days] == [3, 2]
    assert [(e.notification.text, len(e.older)) for e in days[0].entries] == [("另一需求", 0), ("状态3", 2)]
    # Another day is another group; rows without a subject are never collapsed.
    assert [(e.notification.text, len(e.older)) for e in days[1].entries] == [
        ("通知", 0), ("昨天的", 0), ("旧提醒", 0), ("旧提醒2", 0)
    ]


def test_the_list_filters_by_kind_with_unread_counts_per_kind(client, world):
    user = world.liaisons[0]
    Notification.objects.bulk_create(
        [Notification(recipient=user, kind=Kind.NOTICE, text=f"通知{i}", subject=f"notice:{i}") for i in range(3)]
        + [Notification(recipient=user, kind=Kind.SCORED, text="得分", subject="assignment:1", read_at=timezone.now())]
        + [Notification(recipient=world.liaisons[1], kind=Kind.RETURNED, text="别人的")]
    )
    response = page(client, user, reverse("notices:notification_list"))
    tabs = {tab.kind: (tab.total, tab.unread) for tab in response.context["tabs"]}
    assert tabs == {Kind.NOTICE: (3, 3), Kind.SCORED: (1, 0)}  # nobody else's kinds or counts
    html = response.content.decode()
    assert "别人的" not in html
    assert 'href="?kind=notice"' in html

    filtered = page(client, user, reverse("notices:notification_list") + "?kind=scored")
    assert [n.text for n in filtered.context["page_obj"]] == ["得分"]
    assert filtered.context["kind"] == "scored"

    bad = client.get(reverse("notices:notification_list") + "?kind=nonsense")
    assert bad.status_code == 400
    assert "没有这种通知类型。" in bad.content.decode()


def test_mark_read_of_one_kind_leaves_the_others(client, world):
    user = world.liaisons[0]
    Notification.objects.bulk_create(
        [Notification(recipient=user, kind=Kind.NOTICE, text="n"), Notification(recipient=user, kind=Kind.SCORED, text="s")]
    )
    client.force_login(user)
    response = client.post(reverse("notices:mark_all_read"), {"kind": "notice"})
    assert response.status_code == 302 and response["Location"].endswith("?kind=notice")
    assert (unread(user, Kind.NOTICE), unread(user, Kind.SCORED)) == (0, 1)
    assert client.post(reverse("notices:mark_all_read"), {"kind": "bogus"}).status_code == 302
    assert unread(user, Kind.SCORED) == 1  # a bad kind changes nothing


def test_the_list_is_paginated_and_its_queries_do_not_grow(client, world, django_assert_max_num_queries):
    user = world.liaisons[0]
    Notification.objects.bulk_create(
        [Notification(recipient=user, kind=Kind.NEED, text=f"第{i}条", subject=f"need:{i}") for i in range(120)]
    )
    client.force_login(user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("notices:notification_list") + "?page=3")
    assert len(response.context["page_obj"].object_list) == 20
    assert response.context["page_obj"].paginator.num_pages == 3


# --- e-mail: immediately, daily digest, none ---------------------------------------------------------


def test_the_email_preference_is_honoured_by_notify(world, django_capture_on_commit_callbacks):
    immediate, daily, none = world.liaisons[0], world.liaisons[1], world.liaisons[2]
    notification_services.set_email_delivery(daily, "daily")
    notification_services.set_email_delivery(none, "none")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notification_services.notify([immediate.pk, daily.pk, none.pk], Kind.NOTICE, "新通知", "/notices/1/")
    assert [m.to for m in mail.outbox] == [[immediate.email]]
    assert list(OutgoingEmail.objects.values_list("to", flat=True)) == [immediate.email]
    assert Notification.objects.count() == 3  # all three see it in the portal


def test_the_daily_email_digest_lists_the_days_notifications_once(world, settings):
    settings.EMAIL_DIGEST_HOUR = 18
    user = world.liaisons[0]
    notification_services.set_email_delivery(user, "daily")
    EmailPreference.objects.filter(user=user).update(updated_at=at(1, 0))
    Notification.objects.bulk_create(
        [
            Notification(recipient=user, kind=Kind.NOTICE, text="关于劳动技能竞赛的通知", link="/notices/7/", created_at=at(2, 9)),
            Notification(recipient=user, kind=Kind.SCORED, text="您的打卡已评分：8分。", created_at=at(2, 11)),
            Notification(recipient=world.liaisons[1], kind=Kind.NOTICE, text="别人的", created_at=at(2, 9)),
        ]
    )
    assert digests.send_email_digests(now=at(2, 17)) == []  # before the hour
    written = digests.send_email_digests(now=at(2, 18))
    assert len(written) == 1
    assert digests.send_email_digests(now=at(2, 19)) == []  # idempotent the same day
    row = OutgoingEmail.objects.get(pk=written[0])
    assert row.to == user.email and row.notification is None and row.digest.recipient == user
    assert "每日通知汇总：2条" in row.subject
    assert "关于劳动技能竞赛的通知" in row.body and "您的打卡已评分" in row.body
    assert "/notices/7/" in row.body and "别人的" not in row.body

    # Sent through the outbox like any other e-mail.
    mail.outbox.clear()
    from notifications import outbox

    assert outbox.send_due_emails(email_ids=written, now=at(2, 18)) == 1
    assert mail.outbox[0].to == [user.email]

    # The next day's digest starts where this one stopped; a day without news sends nothing.
    Notification.objects.create(recipient=user, kind=Kind.NEED, text="需求有答复", created_at=at(3, 10))
    written = digests.send_email_digests(now=at(3, 18))
    body = OutgoingEmail.objects.get(pk=written[0]).body
    assert "需求有答复" in body and "关于劳动技能竞赛的通知" not in body
    assert digests.send_email_digests(now=at(4, 18)) == []
    assert Digest.objects.filter(kind=Digest.Kind.EMAIL).count() == 2


def test_no_digest_for_immediate_or_none_users(world, settings):
    settings.EMAIL_DIGEST_HOUR = 0
    notification_services.set_email_delivery(world.liaisons[1], "none")
    Notification.objects.create(recipient=world.liaisons[0], kind=Kind.NOTICE, text="x")
    Notification.objects.create(recipient=world.liaisons[1], kind=Kind.NOTICE, text="y")
    assert digests.send_email_digests() == []


def test_the_preference_is_chosen_on_the_list_page(client, world):
    user = world.liaisons[0]
    response = page(client, user, reverse("notices:notification_list"))
    assert response.context["delivery"] == "immediate"
    assert 'value="immediate" checked' in response.content.decode()
    response = client.post(reverse("notices:notification_email_preference"), {"delivery": "daily"})
    assert response.status_code == 302
    assert EmailPreference.objects.get(user=user).delivery == "daily"
    response = client.post(reverse("notices:notification_email_preference"), {"delivery": "weekly"}, follow=True)
    assert "请选择邮件提醒方式。" in response.content.decode()
    assert EmailPreference.objects.get(user=user).delivery == "daily"  # unchanged
    assert client.get(reverse("notices:notification_email_preference")).status_code == 405


def test_the_celery_job_writes_and_sends_the_email_digests(world, settings):
    from notifications.celery_tasks import send_email_digests

    settings.EMAIL_DIGEST_HOUR = 0
    user = world.liaisons[0]
    notification_services.set_email_delivery(user, "daily")
    EmailPreference.objects.filter(user=user).update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    Notification.objects.create(recipient=user, kind=Kind.NOTICE, text="通知")
    mail.outbox.clear()
    assert send_email_digests.delay().get() == 1
    assert send_email_digests.delay().get() == 0
    assert [m.to for m in mail.outbox] == [[user.email]]


# --- existing rows: the migration's backfill ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_subjects_and_settles_the_old_flood(world):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("notifications", "0001_initial")])
    old_apps = executor.loader.project_state([("notifications", "0001_initial")]).apps
    OldNotification = old_apps.get_model("notifications", "Notification")
    user_id = world.liaisons[0].pk
    OldNotification.objects.bulk_create(
        [
            OldNotification(recipient_id=user_id, kind="returned", text="a", link="/tasks/assignments/12/"),
            OldNotification(recipient_id=user_id, kind="notice", text="b", link="/notices/3/"),
            OldNotification(recipient_id=user_id, kind="need", text="c", link="/notices/needs/5/"),
            OldNotification(recipient_id=user_id, kind="forwarded", text="d", link="/tasks/checkins/9/"),
            OldNotification(recipient_id=user_id, kind="deadline", text="e", link="/tasks/?period=1"),
        ]
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = {n.text: n for n in Notification.objects.filter(recipient_id=user_id)}
    assert {text: rows[text].subject for text in "abcde"} == {
        "a": "assignment:12", "b": "notice:3", "c": "need:5", "d": "", "e": ""
    }
    assert rows["d"].read_at is not None and rows["a"].read_at is None

