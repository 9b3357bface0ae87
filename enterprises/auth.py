"""The authentication backend: Django's ModelBackend, loading the signed-in user together with
their profile and its scope chain.

Every page needs the profile (role and scope: Profile.for_user), so loading the user per
request with a second query for the profile cost one more round trip on every request; one
query with LEFT JOINs now gives both. Who may log in, and how, is unchanged.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from .models import Profile

PROFILE_RELATIONS = tuple(f"profile__{relation}" for relation in Profile.SCOPE_RELATIONS)


class PortalModelBackend(ModelBackend):
    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related(*PROFILE_RELATIONS)
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
