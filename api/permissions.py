"""Who may call which API action. Reads the workflow's own table (tasks.workflow), so the
API refuses a role exactly where the services would: the services still decide again."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from enterprises.inputs import profile_or_403
from tasks import workflow


class MayTakeReviewAction(BasePermission):
    """403 before anything else when the user's role can never take the view's review action.

    The view names the action in `review_actions` ({DRF action name: ReviewEvent.Action}).
    """

    def has_permission(self, request, view):
        action = getattr(view, "review_actions", {}).get(getattr(view, "action", None))
        if action is None:
            return True
        profile = profile_or_403(request.user)
        if profile.role not in workflow.ROLES_FOR_ACTION[action]:
            raise PermissionDenied(_("Your role cannot do this."))
        return True
