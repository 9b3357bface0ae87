"""Scheduling recomputes: bulk work coalesces, and a broker outage never fails a score."""

from scoring.models import RankingSnapshot
from scoring.recompute import coalesced_recomputes
from tasks import services
from tasks.models import Assignment, CheckInState


def _pending_city(world, assignment_of, pdf_upload, enterprise_index):
    enterprise = world.enterprises[enterprise_index]
    county_user = world.county_users[0 if enterprise.county == world.counties[0] else 1]
    checkin = services.submit_checkin(
        world.liaisons[enterprise_index], assignment_of(enterprise), "已完成", [pdf_upload()]
    )
    return services.approve(county_user, checkin)


def test_scores_inside_a_coalesced_block_produce_one_snapshot_with_all_of_them(
    world, assignment_of, pdf_upload, django_capture_on_commit_callbacks
):
    checkins = [_pending_city(world, assignment_of, pdf_upload, i) for i in range(3)]

    with coalesced_recomputes():
        with django_capture_on_commit_callbacks(execute=True):
            for checkin, points in zip(checkins, ["8", "6", "4"], strict=True):
                services.score(world.city_user, checkin, points)
        assert RankingSnapshot.objects.count() == 0

    snapshot = RankingSnapshot.objects.get()
    points = dict(snapshot.enterprise_rankings.values_list("enterprise__name", "points"))
    assert [float(points[e.name]) for e in world.enterprises[:3]] == [8.0, 6.0, 4.0]


def test_a_score_commits_even_when_the_recompute_cannot_be_enqueued(
    world, assignment_of, pdf_upload, django_capture_on_commit_callbacks, monkeypatch
):
    from scoring import celery_tasks as scoring_tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    checkin = _pending_city(world, assignment_of, pdf_upload, 0)
    monkeypatch.setattr(scoring_tasks.recompute_rankings, "apply_async", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        services.score(world.city_user, checkin, "9")

    assignment = Assignment.objects.get(pk=checkin.assignment_id)
    assert assignment.state == CheckInState.SCORED
    assert float(assignment.points) == 9.0


def test_ranking_jobs_have_their_own_queue():
    """A ranking never waits behind the e-mails its scores queued (issue 3: fresh rankings)."""
    from chanjgai_portal.celery import app

    router = app.amqp.router
    for name in ("scoring.recompute_rankings", "scoring.full_recompute", "scoring.sweep_pending_recomputes"):
        assert router.route({}, name)["queue"].name == "rankings"
    assert router.route({}, "notices.send_notification_emails")["queue"].name == "celery"
    # A worker started without -Q (make worker, the test worker) consumes both.
    assert set(app.amqp.queues) == {"celery", "rankings"}
