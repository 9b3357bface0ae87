from django.contrib import admin

from enterprises.admin import ScopedAdminMixin, ScopedInline

from .models import ExampleCase, Need, NeedMessage, Notice, NoticeAttachment


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
