"""The check-in workflow of DOMAIN.md, through the services (tasks/services.py).

Every action from every state by every role, submissions and versions, points, reasons,
deadlines, evidence files, the review trail, the ranking recompute and assignment generation.
"""

import datetime
import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils import timezone

from enterprises.models import Profile
from scoring.models import EnterpriseRanking, RankingSnapshot
from tasks import services
from tasks.evidence import clean_original_name
from tasks.models import Assignment, AssignmentState, CheckIn, CheckInState, Evidence, Indicator, Period, ReviewEvent
from tasks.workflow import WorkflowError

from . import factories as f
from .helpers_domain import PNG_BYTES, drive, fingerprint, media_files, pdf, upload

S = CheckInState
R = Profile.Role
A = ReviewEvent.Action

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------------------
# The transition table, written out from DOMAIN.md (not read from tasks.workflow, so that a
# wrong table in the code fails here).
ALLOWED = {
    (A.APPROVE, S.PENDING_COUNTY_REVIEW, R.COUNTY_OFFICE): S.PENDING_CITY_REVIEW,
    (A.RETURN, S.PENDING_COUNTY_REVIEW, R.COUNTY_OFFICE): S.RETURNED,
    (A.RETURN, S.PENDING_CITY_REVIEW, R.CITY_OFFICE): S.RETURNED,
    (A.SCORE, S.PENDING_CITY_REVIEW, R.CITY_OFFICE): S.SCORED,
    (A.REOPEN, S.SCORED, R.CITY_OFFICE): S.PENDING_CITY_REVIEW,
}
# Roles that may take an action in some state; any other role is refused with 403.
MAY_EVER = {
    A.APPROVE: {R.COUNTY_OFFICE},
    A.RETURN: {R.COUNTY_OFFICE, R.CITY_OFFICE},
    A.SCORE: {R.CITY_OFFICE},
    A.REOPEN: {R.CITY_OFFICE},
}
ENTERPRISE_STATES = [S.PENDING_COUNTY_REVIEW, S.PENDING_CITY_REVIEW, S.RETURNED, S.SCORED]
OFFICE_STATES = [S.PENDING_CITY_REVIEW, S.RETURNED, S.SCORED]
ROLES = [R.ENTERPRISE_LIAISON, R.COUNTY_OFFICE, R.CITY_OFFICE, R.OBSERVER]
CASES = [("enterprise", s) for s in ENTERPRISE_STATES] + [("county_office", s) for s in OFFICE_STATES]


def actor(world, role):
    """A user of `role` whose scope covers the first enterprise and the first county."""
    return {
        R.ENTERPRISE_LIAISON: world.liaisons[0],
        R.COUNTY_OFFICE: world.county_users[0],
        R.CITY_OFFICE: world.city_user,
        R.OBSERVER: world.observer,
    }[role]


def act(action, user, checkin, points="7.5"):
    if action == A.APPROVE:
        return services.approve(user, checkin, "同意上报")
    if action == A.RETURN:
        return services.return_checkin(user, checkin, "佐证材料不足")
    if action == A.SCORE:
        return services.score(user, checkin, points, "完成较好")
    if action == A.REOPEN:
        return services.reopen(user, checkin, "复核发现材料有误")
    raise AssertionError(action)


@pytest.fixture
def ent_assignment(world, assignment_of):
    return assignment_of(world.enterprises[0])


@pytest.fixture
def office_assignment(world, assignment_of):
    return assignment_of(world.counties[0])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", [A.APPROVE, A.RETURN, A.SCORE, A.REOPEN])
@pytest.mark.parametrize("kind,state", CASES)
def test_every_action_from_every_state_by_every_role(world, assignment_of, kind, state, action, role):
    assignment = assignment_of(world.enterprises[0] if kind == "enterprise" else world.counties[0])
    checkin = drive(world, assignment, state)
    before = fingerprint(assignment)
    user = actor(world, role)

    if role not in MAY_EVER[action]:
        with pytest.raises(PermissionDenied):
            act(action, user, checkin)
        assert fingerprint(assignment) == before
        return
    expected = ALLOWED.get((action, state, role))
    if expected is None:
        with pytest.raises(WorkflowError):
            act(action, user, checkin)
        assert fingerprint(assignment) == before
        return

    events_before = ReviewEvent.objects.count()
    act(action, user, checkin)

    checkin.refresh_from_db()
    assignment.refresh_from_db()
    assert checkin.state == expected
    assert assignment.state == expected
    expected_points = Decimal("7.50") if action == A.SCORE else None
    assert checkin.points == expected_points
    assert assignment.points == expected_points
    assert ReviewEvent.objects.count() == events_before + 1
    event = ReviewEvent.objects.latest("pk")
    assert (event.checkin_id, event.action, event.actor_id, event.actor_role) == (checkin.pk, action, user.pk, role)
    assert (event.from_state, event.to_state) == (state, expected)
    assert event.comment == {
        A.APPROVE: "同意上报",
        A.RETURN: "佐证材料不足",
        A.SCORE: "完成较好",
        A.REOPEN: "复核发现材料有误",
    }[action]
    assert event.points == expected_points
    # No new version and no file is ever written by a review step.
    after = fingerprint(assignment)
    assert (after.versions, after.evidence, after.files) == (before.versions, before.evidence, before.files)


# --- submissions ------------------------------------------------------------------------

SUBMIT_FROM = [AssignmentState.NOT_SUBMITTED, S.PENDING_COUNTY_REVIEW, S.PENDING_CITY_REVIEW, S.RETURNED, S.SCORED]


def _expected_submit(kind, state, role):
    """ObjectDoesNotExist / PermissionDenied / WorkflowError, or the state the new version starts in."""
    if kind == "enterprise":
        if role != R.ENTERPRISE_LIAISON:
            return PermissionDenied
        start = S.PENDING_COUNTY_REVIEW
    else:
        if role == R.ENTERPRISE_LIAISON:
            return ObjectDoesNotExist  # a county office's own task is outside a liaison's scope
        if role != R.COUNTY_OFFICE:
            return PermissionDenied
        start = S.PENDING_CITY_REVIEW
    if state in (AssignmentState.NOT_SUBMITTED, S.RETURNED):
        return start
    return WorkflowError


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "kind,state",
    [("enterprise", s) for s in SUBMIT_FROM] + [("county_office", s) for s in SUBMIT_FROM if s != S.PENDING_COUNTY_REVIEW],
)
def test_submit_from_every_state_by_every_role(world, assignment_of, kind, state, role):
    assignment = assignment_of(world.enterprises[0] if kind == "enterprise" else world.counties[0])
    if state != AssignmentState.NOT_SUBMITTED:
        drive(world, assignment, state)
    before = fingerprint(assignment)
    user = actor(world, role)
    expected = _expected_submit(kind, state, role)

    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            services.submit_checkin(user, assignment, "第二次提交", [pdf("补充材料.pdf")])
        assert fingerprint(assignment) == before
        return

    checkin = services.submit_checkin(user, assignment, "第二次提交", [pdf("补充材料.pdf")])
    assignment.refresh_from_db()
    assert checkin.version == before.versions + 1
    assert checkin.state == expected == assignment.state
    assert assignment.points is None
    assert [e.original_name for e in checkin.evidence.all()] == ["补充材料.pdf"]
    event = checkin.events.get()
    assert (event.action, event.actor_id, event.actor_role, event.from_state, event.to_state) == (
        A.SUBMIT,
        user.pk,
        role,
        "",
        expected,
    )


def test_enterprise_checkin_starts_in_county_review_and_office_checkin_in_city_review(
    world, ent_assignment, office_assignment
):
    ent = services.submit_checkin(world.liaisons[0], ent_assignment, "已开展", [pdf()])
    office = services.submit_checkin(world.county_users[0], office_assignment, "已开展", [pdf()])
    assert (ent.state, ent.version) == (S.PENDING_COUNTY_REVIEW, 1)
    assert (office.state, office.version) == (S.PENDING_CITY_REVIEW, 1)
    ent_assignment.refresh_from_db()
    office_assignment.refresh_from_db()
    assert ent_assignment.state == AssignmentState.PENDING_COUNTY_REVIEW
    assert office_assignment.state == AssignmentState.PENDING_CITY_REVIEW


def test_resubmissions_are_numbered_versions_and_old_versions_keep_their_files(world, ent_assignment):
    liaison, county = world.liaisons[0], world.county_users[0]
    v1 = services.submit_checkin(liaison, ent_assignment, "第一版说明", [pdf("方案v1.pdf"), pdf("名单v1.pdf")])
    v1_files = {e.file.name: e.file.read() for e in v1.evidence.all()}
    services.return_checkin(county, v1, "缺少获奖名单")
    v2 = services.submit_checkin(liaison, ent_assignment, "第二版说明", [upload("照片v2.png", PNG_BYTES)])
    services.return_checkin(county, v2, "照片不清晰")
    v3 = services.submit_checkin(liaison, ent_assignment, "第三版说明", [pdf("方案v3.pdf")])

    versions = list(CheckIn.objects.filter(assignment=ent_assignment).order_by("version"))
    assert [(c.version, c.description, c.state) for c in versions] == [
        (1, "第一版说明", S.RETURNED),
        (2, "第二版说明", S.RETURNED),
        (3, "第三版说明", S.PENDING_COUNTY_REVIEW),
    ]
    assert v3.pk == versions[2].pk
    assert sorted(e.original_name for e in versions[0].evidence.all()) == ["名单v1.pdf", "方案v1.pdf"]
    assert [e.original_name for e in versions[1].evidence.all()] == ["照片v2.png"]
    # v1's files are still on disk with their content.
    for evidence in Evidence.objects.filter(checkin=v1):
        with evidence.file.open("rb") as fh:
            assert fh.read() == v1_files[evidence.file.name]
    assert len(media_files()) == 4


def test_city_return_of_enterprise_checkin_goes_back_to_county_review_on_resubmit(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.PENDING_CITY_REVIEW)
    services.return_checkin(world.city_user, checkin, "请补充现场照片")
    ent_assignment.refresh_from_db()
    assert ent_assignment.state == AssignmentState.RETURNED
    v2 = services.submit_checkin(world.liaisons[0], ent_assignment, "已补充现场照片", [upload("现场.png", PNG_BYTES)])
    assert (v2.version, v2.state) == (2, S.PENDING_COUNTY_REVIEW)
    # ... and the county office reviews it again before the city sees it.
    services.approve(world.county_users[0], v2)
    services.score(world.city_user, v2, "9")
    ent_assignment.refresh_from_db()
    assert (ent_assignment.state, ent_assignment.points) == (AssignmentState.SCORED, Decimal("9.00"))


def test_returned_office_checkin_resubmits_straight_to_city_review(world, office_assignment):
    checkin = drive(world, office_assignment, S.RETURNED)
    v2 = services.submit_checkin(world.county_users[0], office_assignment, "补充督查报告", [pdf()])
    assert (checkin.state, v2.version, v2.state) == (S.RETURNED, 2, S.PENDING_CITY_REVIEW)


def test_return_reason_is_shown_in_the_trail(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.PENDING_COUNTY_REVIEW)
    services.return_checkin(world.county_users[0], checkin, "  缺少竞赛方案  ")
    event = checkin.events.get(action=A.RETURN)
    assert event.comment == "缺少竞赛方案"


def test_reopen_returns_to_city_review_and_clears_the_points(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.SCORED, points="8.5")
    ent_assignment.refresh_from_db()
    assert ent_assignment.points == Decimal("8.50")

    services.reopen(world.city_user, checkin, "复核：照片与竞赛无关")

    checkin.refresh_from_db()
    ent_assignment.refresh_from_db()
    assert (checkin.state, checkin.points) == (S.PENDING_CITY_REVIEW, None)
    assert (ent_assignment.state, ent_assignment.points) == (AssignmentState.PENDING_CITY_REVIEW, None)
    event = checkin.events.latest("pk")
    assert (event.action, event.from_state, event.to_state, event.comment, event.points) == (
        A.REOPEN,
        S.SCORED,
        S.PENDING_CITY_REVIEW,
        "复核：照片与竞赛无关",
        None,
    )
    # The city can score it again with different points.
    services.score(world.city_user, checkin, "6")
    ent_assignment.refresh_from_db()
    assert ent_assignment.points == Decimal("6.00")


def test_the_trail_of_a_full_round_lists_every_step_in_order(world, ent_assignment):
    liaison, county, city = world.liaisons[0], world.county_users[0], world.city_user
    v1 = services.submit_checkin(liaison, ent_assignment, "v1", [pdf()])
    services.return_checkin(county, v1, "补充")
    v2 = services.submit_checkin(liaison, ent_assignment, "v2", [pdf()])
    services.approve(county, v2, "")
    services.score(city, v2, "10", "优秀")
    services.reopen(city, v2, "复核")
    trail = list(
        ReviewEvent.objects.filter(checkin__assignment=ent_assignment)
        .order_by("pk")
        .values_list("checkin__version", "action", "actor__username", "from_state", "to_state", "points")
    )
    assert trail == [
        (1, A.SUBMIT, liaison.username, "", S.PENDING_COUNTY_REVIEW, None),
        (1, A.RETURN, county.username, S.PENDING_COUNTY_REVIEW, S.RETURNED, None),
        (2, A.SUBMIT, liaison.username, "", S.PENDING_COUNTY_REVIEW, None),
        (2, A.APPROVE, county.username, S.PENDING_COUNTY_REVIEW, S.PENDING_CITY_REVIEW, None),
        (2, A.SCORE, city.username, S.PENDING_CITY_REVIEW, S.SCORED, Decimal("10.00")),
        (2, A.REOPEN, city.username, S.SCORED, S.PENDING_CITY_REVIEW, None),
    ]


# --- points -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "", "-1", "-0.01", "10.01", "11", "1.234", "0.001", "NaN", "Infinity", "-Infinity", "sNaN"])
def test_parse_points_rejects_what_is_not_0_to_max_with_two_decimals(raw):
    with pytest.raises(ValidationError):
        services.parse_points(raw, Decimal("10"))


@pytest.mark.parametrize(
    "raw,value",
    [("10", Decimal("10")), ("7.5", Decimal("7.5")), ("0", Decimal("0")), (" 9.25 ", Decimal("9.25")), ("3.10", Decimal("3.1"))],
)
def test_parse_points_accepts_0_to_max_with_up_to_two_decimals(raw, value):
    assert services.parse_points(raw, Decimal("10")) == value


@pytest.mark.parametrize("raw", ["abc", "-1", "10.01", "1.234", "NaN", "Infinity"])
def test_score_with_bad_points_is_refused_and_changes_nothing(world, ent_assignment, raw):
    checkin = drive(world, ent_assignment, S.PENDING_CITY_REVIEW)
    before = fingerprint(ent_assignment)
    with pytest.raises(ValidationError):
        services.score(world.city_user, checkin, raw)
    assert fingerprint(ent_assignment) == before


def test_score_may_award_exactly_the_indicators_max_points(world, assignment_of):
    indicator = f.IndicatorFactory(city=world.city, code="B09", max_points=Decimal("12.5"))
    services.generate_assignments(world.period)
    assignment = assignment_of(world.enterprises[0], indicator)
    checkin = drive(world, assignment, S.PENDING_CITY_REVIEW)
    with pytest.raises(ValidationError):
        services.score(world.city_user, checkin, "12.51")
    services.score(world.city_user, checkin, "12.5")
    assignment.refresh_from_db()
    assert assignment.points == Decimal("12.50")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_return_without_a_reason_is_refused_and_changes_nothing(world, ent_assignment, reason):
    checkin = drive(world, ent_assignment, S.PENDING_COUNTY_REVIEW)
    before = fingerprint(ent_assignment)
    with pytest.raises(ValidationError):
        services.return_checkin(world.county_users[0], checkin, reason)
    assert fingerprint(ent_assignment) == before


@pytest.mark.parametrize("reason", ["", "  \n "])
def test_reopen_without_a_reason_is_refused_and_keeps_the_points(world, ent_assignment, reason):
    checkin = drive(world, ent_assignment, S.SCORED, points="9")
    before = fingerprint(ent_assignment)
    with pytest.raises(ValidationError):
        services.reopen(world.city_user, checkin, reason)
    assert fingerprint(ent_assignment) == before
    assert before.assignment_points == Decimal("9.00")


def test_submission_without_a_description_is_refused(world, ent_assignment):
    before = fingerprint(ent_assignment)
    with pytest.raises(ValidationError):
        services.submit_checkin(world.liaisons[0], ent_assignment, "   ", [pdf()])
    assert fingerprint(ent_assignment) == before


# --- deadline and closed periods --------------------------------------------------------


def _past_deadline(period):
    Period.objects.filter(pk=period.pk).update(submission_deadline=timezone.now() - datetime.timedelta(minutes=1))


def _closed(period):
    Period.objects.filter(pk=period.pk).update(is_closed=True)


@pytest.mark.parametrize("lock", [_past_deadline, _closed], ids=["deadline_passed", "period_closed"])
def test_no_first_submission_after_the_deadline_or_once_closed(world, ent_assignment, lock):
    lock(world.period)
    before = fingerprint(ent_assignment)
    with pytest.raises(WorkflowError):
        services.submit_checkin(world.liaisons[0], ent_assignment, "迟交", [pdf()])
    assert fingerprint(ent_assignment) == before
    assert media_files() == set()


@pytest.mark.parametrize("lock", [_past_deadline, _closed], ids=["deadline_passed", "period_closed"])
def test_no_resubmission_after_the_deadline_or_once_closed(world, office_assignment, lock):
    drive(world, office_assignment, S.RETURNED)
    lock(world.period)
    before = fingerprint(office_assignment)
    with pytest.raises(WorkflowError):
        services.submit_checkin(world.county_users[0], office_assignment, "迟交", [pdf()])
    assert fingerprint(office_assignment) == before


@pytest.mark.parametrize(
    "state,action,role",
    [
        (S.PENDING_COUNTY_REVIEW, A.APPROVE, R.COUNTY_OFFICE),
        (S.PENDING_COUNTY_REVIEW, A.RETURN, R.COUNTY_OFFICE),
        (S.PENDING_CITY_REVIEW, A.SCORE, R.CITY_OFFICE),
        (S.PENDING_CITY_REVIEW, A.RETURN, R.CITY_OFFICE),
        (S.SCORED, A.REOPEN, R.CITY_OFFICE),
    ],
)
def test_a_closed_period_is_locked_for_reviews_too(world, ent_assignment, state, action, role):
    """DOMAIN.md: "a closed period is locked" — its results stop changing, not only its submissions."""
    checkin = drive(world, ent_assignment, state)
    _closed(world.period)
    before = fingerprint(ent_assignment)
    with pytest.raises(WorkflowError):
        act(action, actor(world, role), checkin)
    assert fingerprint(ent_assignment) == before


# --- evidence files ---------------------------------------------------------------------


def _too_many(settings):
    settings.EVIDENCE_MAX_FILES = 2
    return [pdf("1.pdf"), pdf("2.pdf"), pdf("3.pdf")]


def _too_large(settings):
    settings.EVIDENCE_MAX_FILE_SIZE = 64
    return [upload("大文件.pdf", b"%PDF-1.4\n" + b"x" * 100)]


@pytest.mark.parametrize(
    "make_files",
    [
        lambda s: [upload("程序.exe", b"MZ\x90\x00" + b"\0" * 20)],
        lambda s: [upload("无扩展名", b"%PDF-1.4\n")],
        lambda s: [upload("伪装.pdf", PNG_BYTES)],
        lambda s: [upload("伪装.docx", b"%PDF-1.4\n...")],
        lambda s: [upload("空文件.pdf", b"")],
        lambda s: [],
        _too_many,
        _too_large,
        # A good file first and a bad one after: the good one must not be stored either.
        lambda s: [pdf("好文件.pdf"), upload("坏文件.jpg", b"GIF89a....")],
    ],
    ids=[
        "wrong_extension",
        "no_extension",
        "png_bytes_named_pdf",
        "pdf_bytes_named_docx",
        "empty_file",
        "no_file",
        "too_many_files",
        "too_large",
        "one_bad_among_good",
    ],
)
def test_bad_evidence_is_refused_nothing_stored_and_no_orphan_file(world, ent_assignment, settings, make_files):
    files = make_files(settings)
    before = fingerprint(ent_assignment)
    with pytest.raises(ValidationError):
        services.submit_checkin(world.liaisons[0], ent_assignment, "说明", files)
    assert fingerprint(ent_assignment) == before
    assert media_files() == set()


def test_evidence_at_the_limits_is_accepted(world, ent_assignment, settings):
    settings.EVIDENCE_MAX_FILES = 2
    settings.EVIDENCE_MAX_FILE_SIZE = 64
    content = b"%PDF-1.4\n" + b"x" * 55
    assert len(content) == 64
    checkin = services.submit_checkin(
        world.liaisons[0], ent_assignment, "说明", [upload("a.pdf", content), upload("b.png", PNG_BYTES)]
    )
    assert checkin.evidence.count() == 2


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("C:\\Users\\张伟\\Desktop\\安康杯方案.pdf", "安康杯方案.pdf"),
        ("re\x00po\x1frt\n.pdf", "report.pdf"),
        ("\u202egpj.pdf", "gpj.pdf"),  # right-to-left override (format control) removed
        ("  总结.pdf  ", "总结.pdf"),
        ("...", "file"),
        ("", "file"),
    ],
)
def test_original_names_are_sanitised(raw, clean):
    assert clean_original_name(raw) == clean


def test_stored_files_get_generated_names_and_keep_content_and_checksum(world, ent_assignment):
    content = b"%PDF-1.7\n" + "安康杯劳动竞赛方案".encode() + b"\n%%EOF"
    checkin = services.submit_checkin(
        world.liaisons[0],
        ent_assignment,
        "说明",
        [upload("../../etc/安康杯\x07方案.PDF", content), upload("../../etc/安康杯\x07方案.PDF", content)],
    )
    first, second = checkin.evidence.order_by("pk")
    assert first.original_name == "安康杯方案.PDF"
    assert (first.size, first.content_type, first.sha256) == (
        len(content),
        "application/pdf",
        hashlib.sha256(content).hexdigest(),
    )
    # Stored under a generated name inside evidence/, never the user's name or path.
    assert first.file.name.startswith("evidence/")
    assert first.file.name.endswith(".pdf")
    assert "安康杯" not in first.file.name and ".." not in first.file.name and "etc" not in first.file.name
    assert first.file.name != second.file.name
    with first.file.open("rb") as fh:
        assert fh.read() == content
    assert media_files() == {first.file.name, second.file.name}


# --- the review trail -------------------------------------------------------------------


def test_review_events_cannot_be_changed_or_deleted(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.PENDING_COUNTY_REVIEW)
    event = checkin.events.get()
    event.comment = "篡改"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    stored = ReviewEvent.objects.get(pk=event.pk)
    assert stored.comment == ""
    assert stored.to_state == S.PENDING_COUNTY_REVIEW


def test_review_events_cannot_be_changed_or_deleted_in_bulk(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.PENDING_CITY_REVIEW)
    trail = list(checkin.events.order_by("pk").values_list("pk", "action", "comment"))
    assert len(trail) == 2
    with pytest.raises(ValidationError):
        ReviewEvent.objects.filter(checkin=checkin).update(comment="篡改")
    with pytest.raises(ValidationError):
        ReviewEvent.objects.filter(checkin=checkin).delete()
    assert list(checkin.events.order_by("pk").values_list("pk", "action", "comment")) == trail


# --- ranking recompute ------------------------------------------------------------------


def _ranking_points(period, enterprise):
    snapshot = RankingSnapshot.objects.latest_for(period)
    assert snapshot is not None
    return EnterpriseRanking.objects.get(snapshot=snapshot, enterprise=enterprise).points


def test_scoring_recomputes_the_rankings_once_committed(world, ent_assignment, django_capture_on_commit_callbacks):
    checkin = drive(world, ent_assignment, S.PENDING_CITY_REVIEW)
    with django_capture_on_commit_callbacks() as callbacks:
        services.score(world.city_user, checkin, "7.5")
    # Nothing is computed before the commit...
    assert not RankingSnapshot.objects.filter(period=world.period).exists()
    for callback in callbacks:
        callback()
    # ...and afterwards the ranking shows the points.
    assert _ranking_points(world.period, world.enterprises[0]) == Decimal("7.50")


def test_reopening_recomputes_and_the_points_stop_counting(world, ent_assignment, django_capture_on_commit_callbacks):
    checkin = drive(world, ent_assignment, S.PENDING_CITY_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        services.score(world.city_user, checkin, "9")
    assert _ranking_points(world.period, world.enterprises[0]) == Decimal("9.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.reopen(world.city_user, checkin, "复核")
    # The same day's snapshot is brought up to date in place.
    assert RankingSnapshot.objects.filter(period=world.period).count() == 1
    assert _ranking_points(world.period, world.enterprises[0]) == Decimal("0.00")


def test_refused_score_schedules_no_recompute(world, ent_assignment, django_capture_on_commit_callbacks):
    checkin = drive(world, ent_assignment, S.PENDING_COUNTY_REVIEW)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(WorkflowError):
            services.score(world.city_user, checkin, "9")
    assert callbacks == []
    assert not RankingSnapshot.objects.filter(period=world.period).exists()


# --- generating assignments -------------------------------------------------------------


def test_generate_assignments_is_idempotent(world):
    count = Assignment.objects.filter(period=world.period).count()
    # world: 4 enterprises × 1 enterprise indicator + 2 county offices × 1 office indicator.
    assert count == 6
    assert services.generate_assignments(world.period) == 0
    assert Assignment.objects.filter(period=world.period).count() == 6


def test_generate_assignments_gives_each_county_office_one_assignment_per_office_indicator(world):
    extra = f.IndicatorFactory.for_county_office(city=world.city, code="X02")
    assert services.generate_assignments(world.period) == 2
    rows = Assignment.objects.filter(period=world.period, indicator=extra)
    assert sorted(rows.values_list("county_id", "enterprise_id")) == sorted((c.pk, None) for c in world.counties)


def test_generate_assignments_respects_size_classes_and_skips_inactive(world):
    large_medium = f.IndicatorFactory(city=world.city, code="B20", applies_to_sizes=["large", "medium"])
    inactive_indicator = f.IndicatorFactory(city=world.city, code="B21", is_active=False)
    gone = f.EnterpriseFactory(county=world.counties[1], size_class="large", is_active=False)
    other_city_enterprise = f.EnterpriseFactory(county=f.RegionFactory.county(), size_class="large")

    created = services.generate_assignments(world.period)

    rows = Assignment.objects.filter(period=world.period, indicator=large_medium)
    assert set(rows.values_list("enterprise__name", flat=True)) == {"徐州云集港口有限公司", "徐州恒达机械制造有限公司"}
    assert created == 2
    assert not Assignment.objects.filter(indicator=inactive_indicator).exists()
    assert not Assignment.objects.filter(enterprise=gone).exists()
    assert not Assignment.objects.filter(enterprise=other_city_enterprise).exists()
    # Each enterprise assignment carries its enterprise's county.
    for a in Assignment.objects.filter(period=world.period, enterprise__isnull=False):
        assert a.county_id == a.enterprise.county_id


def test_generate_assignments_keeps_existing_work(world, ent_assignment):
    checkin = drive(world, ent_assignment, S.SCORED, points="8")
    f.IndicatorFactory(city=world.city, code="B30")
    assert services.generate_assignments(world.period) == 4
    ent_assignment.refresh_from_db()
    assert (ent_assignment.state, ent_assignment.points) == (AssignmentState.SCORED, Decimal("8.00"))
    assert CheckIn.objects.get(pk=checkin.pk).state == S.SCORED


def test_indicator_targets_are_kept_apart(world):
    office_rows = Assignment.objects.filter(period=world.period, indicator__target=Indicator.Target.COUNTY_OFFICE)
    assert office_rows.count() == 2
    assert not office_rows.filter(enterprise__isnull=False).exists()
    assert not Assignment.objects.filter(
        period=world.period, indicator__target=Indicator.Target.ENTERPRISE, enterprise__isnull=True
    ).exists()
