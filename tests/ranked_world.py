"""A world with one ranking snapshot: the `ranked_world` fixture (a pytest plugin listed in
conftest's pytest_plugins) and `award`, which marks an assignment scored the way the engine reads
it. The rankings page, export and storage-backend tests share it.
"""

from decimal import Decimal

import pytest

from scoring.engine import compute_snapshot
from tasks.models import Assignment, AssignmentState


def award(assignment, points):
    """Mark the assignment scored with `points`: what the engine reads (the workflow's own
    transitions are covered in the workflow tests)."""
    Assignment.objects.filter(pk=assignment.pk).update(state=AssignmentState.SCORED, points=Decimal(points))


@pytest.fixture
def ranked_world(world, assignment_of):
    """The conftest world with one snapshot:

    enterprises e11 8, e12 8 (c1), e21 10, e22 not scored (c2) → city ranks 2, 2, 1, 4;
    county offices: c1 5 of 10, c2 nothing → c1 = 40×0.5 + 60×0.8 = 68, c2 = 0 + 60×0.5 = 30.
    """
    e11, e12, e21, _e22 = world.enterprises
    award(assignment_of(e11), 8)
    award(assignment_of(e12), 8)
    award(assignment_of(e21), 10)
    award(assignment_of(world.counties[0]), 5)
    world.snapshot = compute_snapshot(world.period, trigger="test")
    return world
