from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from enterprises.admin import ScopedAdminMixin, ScopedInline, person_column
from enterprises.models import with_names

from .models import ExampleCase, Need, NeedMessage, Notice, NoticeAttachment


class NoticeAttachmentInline(ScopedInline):
    model = NoticeAttachment
    fields = ["original_name", "size", "content_type"]
    readonly_fields = fields


@admin.register(Notice)
class NoticeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    scope_city = "city"
    list_display = ["title", "sender_office", "audience", "published_at"]
    list_filter = ["audience"]
    list_select_related = ["sender_region"]

    @admin.display(description=_("published by"), ordering="sender_region__name")
    def sender_office(self, notice):
        return notice.sender_region.office_name
    search_fields = ["title"]
    raw_id_fields = ["sender"]
    inlines = [NoticeAttachmentInline]


class NeedMessageInline(ScopedInline):
    model = NeedMessage
    fields = ["at", "action", "author_name", "from_state", "to_state", "text"]
    readonly_fields = fields
    author_name = person_column("author", _("by"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*with_names("author"))


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
