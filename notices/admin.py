from django.contrib import admin

from enterprises.admin import ScopedAdminMixin, ScopedChoicesMixin, ScopedInline

from .models import ExampleCase, Need, NeedMessage, Notice, NoticeAttachment, Notification, OutgoingEmail


@admin.register(Notification)
class NotificationAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """Notifications are personal: staff other than superusers see only their own."""

    list_display = ["recipient", "kind", "text", "created_at", "read_at"]
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
        "notification", "to", "subject", "body", "status", "attempts",
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


class NoticeAttachmentInline(ScopedInline):
    model = NoticeAttachment
    fields = ["original_name", "size", "content_type"]
    readonly_fields = fields


@admin.register(Notice)
class NoticeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_city = "city"
    list_display = ["title", "sender_region", "audience", "published_at"]
    list_filter = ["audience"]
    list_select_related = ["sender_region"]
    search_fields = ["title"]
    raw_id_fields = ["sender"]
    inlines = [NoticeAttachmentInline]


class NeedMessageInline(ScopedInline):
    model = NeedMessage
    fields = ["at", "action", "author", "from_state", "to_state", "text"]
    readonly_fields = fields


@admin.register(Need)
class NeedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_enterprise = "enterprise"
    scope_county = "county"
    list_display = ["enterprise", "county", "category", "state", "created_at"]
    list_filter = ["state", "category"]
    list_select_related = ["enterprise", "county"]
    raw_id_fields = ["enterprise", "reporter"]
    inlines = [NeedMessageInline]
    # The stored file is served only through the permission-checked need_attachment view;
    # the admin shows what it is, never a link to the storage (which has no public URL).
    exclude = ["attachment"]
    readonly_fields = ["attachment_name", "attachment_type", "attachment_size"]


@admin.register(ExampleCase)
class ExampleCaseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_city = "city"
    list_display = ["title", "category", "is_public_evidence", "created_at"]
    list_filter = ["category", "is_public_evidence"]
    raw_id_fields = ["checkin", "marked_by"]
