from django.contrib import admin

from enterprises.admin import ScopedChoicesMixin

from .models import Notification, OutgoingEmail


@admin.register(Notification)
class NotificationAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """Notifications are personal: staff other than superusers see only their own."""

    list_display = ["recipient", "kind", "text", "subject", "created_at", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__username", "text"]
    raw_id_fields = ["recipient"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(recipient=request.user)


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """The e-mail outbox, read-only and for superusers only (addresses and texts of every
    city): what is waiting, what was sent, what was given up and why."""

    list_display = ["to", "subject", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to", "subject"]
    readonly_fields = [
        "notification", "digest", "to", "subject", "body", "status", "attempts",
        "next_attempt_at", "created_at", "sent_at", "last_error",
    ]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
