from .capabilities import Capabilities
from .models import Profile


def current_profile(request):
    """The signed-in user's role and scope, for the who-am-I bar on every page, and what the
    user may do (`caps`, enterprises.capabilities): templates ask it instead of the role."""
    user = getattr(request, "user", None)
    profile = Profile.for_user(user) if user is not None else None
    return {"profile": profile, "caps": Capabilities.of(profile)}
