"""Admin actions of login security: unlocking usernames on axes' access-attempt list, and
revoking the API tokens of accounts on the profile list. Both go through accounts.security."""

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from enterprises import admin as enterprises_admin
from enterprises.inputs import messages_of
from enterprises.models import Profile
from enterprises.scoping import accounts_managed_by

from . import security
from .models import AccountEvent


# --- Login lockouts: axes' own admin, plus unlocking through the one service ---------------
class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    actions = ["unlock_selected"]

    @admin.action(description=_("Unlock the selected usernames"))
    def unlock_selected(self, request, queryset):
        for username in sorted(set(queryset.values_list("username", flat=True))):
            try:
                security.unlock_user(request.user, username)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{username}: {' '.join(messages_of(exc))}", messages.ERROR)
            else:
                self.message_user(request, _("%(username)s can log in again.") % {"username": username})


if admin.site.is_registered(AccessAttempt):  # axes registers it unless AXES_ENABLE_ADMIN is off
    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, AccessAttemptAdmin)


# --- API tokens: the enterprises app's profile admin, with one action of this app ----------
class ProfileAdmin(enterprises_admin.ProfileAdmin):
    """enterprises' ProfileAdmin (scope, choices, the city's checks) plus revoking the API
    tokens of the selected accounts; it replaces that registration, as the access-attempt
    admin above replaces axes' one, because enterprises sits below accounts."""

    actions = ["revoke_api_tokens"]

    @admin.action(description=_("Revoke the API tokens of the selected accounts"), permissions=["change"])
    def revoke_api_tokens(self, request, queryset):
        for username in queryset.order_by("user__username").values_list("user__username", flat=True):
            try:
                revoked = security.revoke_tokens_of(request.user, username)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, f"{username}: {' '.join(messages_of(exc))}", messages.ERROR)
            else:
                message = _("The API tokens of %(username)s are revoked (%(count)d).")
                self.message_user(request, message % {"username": username, "count": revoked})


admin.site.unregister(Profile)
admin.site.register(Profile, ProfileAdmin)


# --- The account audit trail: read-only, for everyone including a superuser ----------------
@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    """Account events as recorded (accounts.onboarding): never added, changed or deleted here."""

    list_display = ("at", "action", "user", "actor", "address")
    list_filter = ("action",)
    search_fields = ("user__username", "actor__username")
    list_select_related = ("user", "actor")
    date_hierarchy = "at"
    readonly_fields = ("at", "action", "user", "actor", "address", "detail")

    def get_queryset(self, request):
        events = super().get_queryset(request)
        if request.user.is_superuser:
            return events
        return events.filter(user__in=accounts_managed_by(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
