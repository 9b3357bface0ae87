"""Rankings recomputed by a real Celery worker on Redis, not eagerly in-process.

The worker runs in a thread of this process (celery.contrib.testing.worker.start_worker)
and opens its own database connection, so these tests use committed transactions
(django_db(transaction=True)): the scoring service's on_commit hook fires for real.
"""

import os
from decimal import Decimal

import pytest
from django.db.models import Count
from django.test import override_settings

from chanjgai_portal.celery import app as celery_app
from scoring import recompute
from scoring.celery_tasks import full_recompute, recompute_rankings, sweep_pending_recomputes
from scoring.models import EnterpriseRanking, RankingSnapshot, RecomputeRequest
from tasks import services

from .celery_worker import _wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _ranking_rows(snapshot):
    return list(
        EnterpriseRanking.objects.filter(snapshot=snapshot)
        .with_ranks()
        .order_by("enterprise_id")
        .values_list(
            "enterprise_id",
            "county_id",
            "points",
            "max_points",
            "score_rate",
            "assigned_count",
            "scored_count",
            "rank_in_county",
            "rank_in_city",
        )
    )


def test_scoring_a_checkin_makes_the_worker_publish_a_ranking_with_the_new_points(
    redis_worker, world, assignment_of, pdf_upload
):
    enterprise = world.enterprises[2]
    checkin = services.submit_checkin(
        world.liaisons[2], assignment_of(enterprise), "已开展劳动技能竞赛。", [pdf_upload()]
    )
    services.approve(world.county_users[1], checkin, "同意上报。")
    assert not RankingSnapshot.objects.filter(period=world.period).exists()

    # score() commits, then its on_commit hook enqueues the recompute on Redis.
    services.score(world.city_user, checkin, "8.5", "材料规范。")

    ranking = _wait_for(
        lambda: EnterpriseRanking.objects.filter(
            snapshot__period=world.period, enterprise=enterprise, points="8.50"
        )
        .with_ranks()
        .first(),
        "a snapshot with the new points",
    )
    assert ranking.rank_in_city == 1
    assert ranking.rank_in_county == 1
    assert ranking.scored_count == 1
    assert ranking.snapshot.county_rankings.get(county=world.counties[1]).rank == 1


def _score(world, assignment_of, pdf_upload, index, points):
    enterprise = world.enterprises[index]
    checkin = services.submit_checkin(world.liaisons[index], assignment_of(enterprise), "说明", [pdf_upload()])
    services.approve(world.county_users[0 if index < 2 else 1], checkin)
    return services.score(world.city_user, checkin, points)


def test_the_incremental_ranking_equals_a_full_recompute_and_a_job_run_twice_changes_nothing(
    redis_worker, world, assignment_of, pdf_upload
):
    for i, points in ((0, "9"), (1, "6"), (2, "9")):
        _score(world, assignment_of, pdf_upload, i, points)
    latest = _wait_for(
        lambda: RankingSnapshot.objects.filter(
            period=world.period, enterprise_rankings__scored_count=1
        ).annotate(n=Count("enterprise_rankings")).filter(n=3).first(),
        "the ranking jobs triggered by three scores",
    )
    _wait_for(lambda: not RecomputeRequest.objects.exists(), "every ranking change applied")
    incremental = _ranking_rows(latest)

    # Nothing is pending: the job changes nothing, however often it runs.
    recompute_rankings.delay(world.period.pk, trigger="test")
    recompute_rankings.delay(world.period.pk, trigger="test")
    full_recompute.delay(world.period.pk)
    full = _wait_for(
        lambda: RankingSnapshot.objects.filter(period=world.period, trigger="full").first(), "a full recompute"
    )
    assert _ranking_rows(RankingSnapshot.objects.get(pk=latest.pk)) == incremental
    assert [row[1:] for row in _ranking_rows(full)] == [row[1:] for row in incremental]
    by_enterprise = {row[0]: row for row in incremental}
    # Equal points share a rank: 9, 9, 6, 0 → 1, 1, 3, 4.
    assert [by_enterprise[e.pk][-1] for e in world.enterprises] == [1, 3, 1, 4]


def test_a_score_given_while_the_broker_is_down_is_ranked_by_the_sweep(
    redis_worker, world, assignment_of, pdf_upload, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    with monkeypatch.context() as down:
        down.setattr(recompute, "redis_client", broker_down)
        down.setattr(celery_app, "send_task", broker_down)
        checkin = _score(world, assignment_of, pdf_upload, 1, "7")

    # The score committed; the change waits in Postgres, not in the lost queue.
    assert EnterpriseRanking.objects.filter(enterprise=world.enterprises[1], points="7.00").count() == 0
    assert RecomputeRequest.objects.filter(period=world.period).exists()
    checkin.refresh_from_db()
    assert checkin.points == Decimal("7.00")

    with override_settings(RANKING_SWEEP_GRACE=0):
        sweep_pending_recomputes.delay()
        ranking = _wait_for(
            lambda: EnterpriseRanking.objects.filter(enterprise=world.enterprises[1], points="7.00").with_ranks().first(),
            "the sweep to rank the score",
        )
    assert ranking.rank_in_city == 1
    assert not RecomputeRequest.objects.exists()


def test_a_burst_of_scores_ends_with_a_ranking_that_includes_every_one(
    redis_worker, world, assignment_of, pdf_upload
):
    checkins = []
    for index in range(4):
        enterprise = world.enterprises[index]
        checkin = services.submit_checkin(world.liaisons[index], assignment_of(enterprise), "说明", [pdf_upload()])
        checkins.append(services.approve(world.county_users[0 if index < 2 else 1], checkin))
    for checkin, points in zip(checkins, ["4", "8", "6", "10"], strict=True):
        services.score(world.city_user, checkin, points)

    def final_ranking():
        snapshot = RankingSnapshot.objects.latest_for(world.period)
        if snapshot is None or RecomputeRequest.objects.exists():
            return None
        rows = dict(snapshot.enterprise_rankings.with_ranks().values_list("enterprise_id", "rank_in_city"))
        return rows if len(rows) == 4 and sorted(rows.values()) == [1, 2, 3, 4] else None

    ranks = _wait_for(final_ranking, "a ranking with all four scores")
    assert [ranks[e.pk] for e in world.enterprises] == [4, 2, 3, 1]


def test_a_submission_makes_the_worker_render_the_evidence_previews(redis_worker, world, assignment_of):
    """The previews job goes through Redis to a real worker after the submission commits."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tasks.models import EvidencePreview, PreviewState

    from . import factories as f

    checkin = services.submit_checkin(
        world.liaisons[0],
        assignment_of(world.enterprises[0]),
        "方案和照片。",
        [
            SimpleUploadedFile("方案.pdf", f.real_pdf_bytes(pages=2), content_type="application/pdf"),
            SimpleUploadedFile("照片.jpg", f.image_bytes(), content_type="image/jpeg"),
        ],
    )
    _wait_for(
        lambda: set(checkin.evidence.values_list("preview_state", flat=True)) == {PreviewState.READY},
        "the previews of both files",
    )
    kinds = sorted(EvidencePreview.objects.filter(evidence__checkin=checkin).values_list("kind", "page"))
    assert kinds == [("page", 1), ("page", 1), ("page", 2), ("thumb", 1), ("thumb", 1)]


def test_ci_runs_the_suite_on_postgres_and_redis():
    """SQLite or an eager Celery must never let CI pass silently: CI sets both services."""
    if not os.environ.get("CI"):
        pytest.skip("only enforced when CI is set")
    from django.db import connection

    assert connection.vendor == "postgresql", "CI must run on PostgreSQL: set DATABASE_URL"
    assert os.environ.get("REDIS_URL"), "CI must run the worker tests on Redis: set REDIS_URL"
