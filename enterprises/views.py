from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .models import Profile

# Where each role starts its work: the offices and liaisons on their dashboards.
HOME_BY_ROLE = {
    Profile.Role.ENTERPRISE_LIAISON: "dashboards:enterprise",
    Profile.Role.COUNTY_OFFICE: "dashboards:county",
    Profile.Role.CITY_OFFICE: "dashboards:city",
    Profile.Role.OBSERVER: "scoring:rankings",
}


@login_required
def home(request):
    """Send each user to the page their role starts from."""
    profile = Profile.for_user(request.user)
    if profile is not None:
        return redirect(HOME_BY_ROLE[profile.role])
    if request.user.is_staff:
        return redirect("admin:index")
    raise PermissionDenied(_("Your account has no role in the portal. Ask the city office to set it up."))
