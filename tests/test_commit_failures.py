"""A submission whose COMMIT fails: the evidence files go only if the check-in did.

The COMMIT is the one step whose outcome the client may not learn: the server can commit and
then lose the connection before it answers (a restart, a network cut). Deleting the files then
would leave a check-in without its evidence.
"""

import pytest
from django.db import OperationalError, connections

from tasks import services
from tasks.models import CheckIn, Evidence

from .helpers_domain import media_files

pytestmark = pytest.mark.django_db(transaction=True)


def _commit_that(monkeypatch, commits):
    """Make the next COMMIT raise as a lost connection does, after committing or not."""
    wrapper = connections["default"]
    real_commit = wrapper.commit

    def lost_connection():
        monkeypatch.undo()  # only this one COMMIT
        if commits:
            real_commit()
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(wrapper, "commit", lost_connection)


def test_files_stay_when_the_server_committed_before_the_connection_was_lost(
    world, assignment_of, pdf_upload, monkeypatch
):
    assignment = assignment_of(world.enterprises[0])
    _commit_that(monkeypatch, commits=True)
    with pytest.raises(OperationalError):
        services.submit_checkin(world.liaisons[0], assignment, "说明", [pdf_upload(), pdf_upload("第二份.pdf")])

    checkin = CheckIn.objects.get(assignment=assignment)
    names = set(Evidence.objects.filter(checkin=checkin).values_list("file", flat=True))
    assert len(names) == 2 and names <= media_files()


def test_files_go_when_the_commit_did_not_happen(world, assignment_of, pdf_upload, monkeypatch):
    assignment = assignment_of(world.enterprises[0])
    before = media_files()
    _commit_that(monkeypatch, commits=False)
    with pytest.raises(OperationalError):
        services.submit_checkin(world.liaisons[0], assignment, "说明", [pdf_upload()])

    assert not CheckIn.objects.filter(assignment=assignment).exists()
    assert media_files() == before
