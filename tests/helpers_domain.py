"""Helpers for the domain tests (workflow, rankings, scoping, concurrency).

They drive check-ins into a given state through the real services, and take a
"fingerprint" of everything a refused action must leave untouched.
"""

import os
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks import services
from tasks.models import Assignment, CheckIn, CheckInState, Evidence, ReviewEvent

from . import factories as f

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

S = CheckInState


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def pdf(name="方案.pdf"):
    return f.pdf_upload(name)


def media_files():
    """Every file currently stored under MEDIA_ROOT (relative paths)."""
    root = settings.MEDIA_ROOT
    found = set()
    if not os.path.isdir(root):
        return found
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


@dataclass(frozen=True)
class Fingerprint:
    """What a refused action must not change."""

    checkin_states: tuple
    assignment_state: str
    assignment_points: object
    versions: int
    events: int
    evidence: int
    files: frozenset


def fingerprint(assignment):
    assignment = Assignment.objects.get(pk=assignment.pk)
    checkins = CheckIn.objects.filter(assignment=assignment).order_by("version")
    return Fingerprint(
        checkin_states=tuple(checkins.values_list("version", "state", "points")),
        assignment_state=assignment.state,
        assignment_points=assignment.points,
        versions=checkins.count(),
        events=ReviewEvent.objects.filter(checkin__assignment=assignment).count(),
        evidence=Evidence.objects.filter(checkin__assignment=assignment).count(),
        files=frozenset(media_files()),
    )


def submitter_for(world, assignment):
    """The user who submits for the assignment: its enterprise's liaison or its county office."""
    if assignment.enterprise_id:
        return world.liaisons[world.enterprises.index(assignment.enterprise)]
    return world.county_users[world.counties.index(assignment.county)]


def county_user_for(world, assignment):
    return world.county_users[world.counties.index(assignment.county)]


def drive(world, assignment, state, points="8"):
    """Submit a check-in for `assignment` and move it through the services into `state`.

    Enterprise path: submit → (approve) → (score); county-office path: submit → (score).
    `returned` is a return by the first reviewer. Returns the latest check-in.
    """
    checkin = services.submit_checkin(submitter_for(world, assignment), assignment, "已按要求开展，见附件。", [pdf()])
    if state == checkin.state:
        return checkin
    if state == S.RETURNED:
        if assignment.enterprise_id:
            return services.return_checkin(county_user_for(world, assignment), checkin, "材料不全，请补充。")
        return services.return_checkin(world.city_user, checkin, "材料不全，请补充。")
    if assignment.enterprise_id:
        checkin = services.approve(county_user_for(world, assignment), checkin, "同意上报。")
        if state == S.PENDING_CITY_REVIEW:
            return checkin
    if state == S.PENDING_CITY_REVIEW:
        return checkin
    assert state == S.SCORED, state
    return services.score(world.city_user, checkin, points, "")


def set_scored(assignment, points):
    """Give an assignment awarded points directly (for ranking arithmetic, no workflow)."""
    Assignment.objects.filter(pk=assignment.pk).update(state=S.SCORED, points=Decimal(str(points)))
