from .models import Profile


def current_profile(request):
    """The signed-in user's role and scope, for the who-am-I bar on every page."""
    user = getattr(request, "user", None)
    profile = Profile.for_user(user) if user is not None else None
    return {"profile": profile}
