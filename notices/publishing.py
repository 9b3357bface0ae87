"""Notices (政策直达): who may publish to whom, who receives a notice, read receipts.

Errors follow tasks.services: PermissionDenied (403), ValidationError (400); nothing is
changed when one is raised. The recipients' notifications (notifications.notify) are
written in the notice's transaction.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from enterprises.capabilities import may_publish_notices
from enterprises.inputs import MAX_DESCRIPTION_LENGTH, clean_text, profile_or_403
from enterprises.models import Enterprise, Profile, Region
from notifications.models import Notification
from notifications.services import mark_read_for, notify
from tasks.evidence import inspect_upload
from tasks.evidence_files import staged_files

from .models import MAX_TITLE_LENGTH, Notice, NoticeAttachment, NoticeRead

Role = Profile.Role
MAX_NOTICE_FILES = 5


def notice_recipients(notice: Notice) -> QuerySet:
    """The users in a notice's audience: liaisons of the enterprises it targets and, for a
    notice of the city office, the county offices concerned. A queryset of users."""
    User = get_user_model()
    Audience = Notice.Audience
    enterprises = Enterprise.objects.filter(is_active=True)
    offices = Region.objects.filter(level=Region.Level.COUNTY)
    if notice.audience == Audience.COUNTY:
        enterprises = enterprises.filter(county_id=notice.target_county_id)
        offices = offices.filter(pk=notice.target_county_id)
    else:
        enterprises = enterprises.filter(county__parent_id=notice.city_id)
        offices = offices.filter(parent_id=notice.city_id)
        if notice.audience == Audience.SIZE_CLASS:
            enterprises = enterprises.filter(size_class=notice.target_size)
    liaison_q = {"profile__role": Role.ENTERPRISE_LIAISON, "profile__enterprise__in": enterprises}
    if notice.sender_region_id == notice.city_id:
        return User.objects.filter(
            Q(**liaison_q) | Q(profile__role=Role.COUNTY_OFFICE, profile__region__in=offices)
        )
    return User.objects.filter(**liaison_q)


def require_publisher(user: AbstractBaseUser) -> Profile:
    """The profile of a reform office (city or county), or PermissionDenied."""
    profile = profile_or_403(user)
    if not may_publish_notices(profile):
        raise PermissionDenied(_("Only reform offices publish notices."))
    return profile


def publish_notice(
    user: AbstractBaseUser,
    title: str,
    body: str,
    audience: str,
    target_county: Region | None = None,
    target_size: str = "",
    files: Iterable[UploadedFile] = (),
) -> Notice:
    """Publish a notice: the city office to its whole city, one county or one size class;
    a county office to its own county only."""
    profile = require_publisher(user)
    Audience = Notice.Audience
    if profile.is_city_office:
        city = profile.region
        if audience not in Audience.values:
            raise ValidationError(_("Choose who receives the notice."))
        if audience == Audience.COUNTY:
            if target_county is None or target_county.parent_id != city.pk or target_county.level != Region.Level.COUNTY:
                raise ValidationError(_("Choose a county-level unit of your city."))
        else:
            target_county = None
        if audience == Audience.SIZE_CLASS:
            if target_size not in Enterprise.SizeClass.values:
                raise ValidationError(_("Choose a size class."))
        else:
            target_size = ""
    elif profile.is_county_office:
        if audience not in ("", Audience.COUNTY) or (target_county is not None and target_county.pk != profile.region_id):
            raise PermissionDenied(_("A county office publishes to its own county only."))
        audience, target_county, target_size = Audience.COUNTY, profile.region, ""
        city = profile.region.parent
    title = clean_text(title, _("Title"), True, MAX_TITLE_LENGTH)
    body = clean_text(body, _("Body"), True, MAX_DESCRIPTION_LENGTH)
    files = list(files or [])
    if len(files) > MAX_NOTICE_FILES:
        raise ValidationError(_("At most %(count)d files per notice.") % {"count": MAX_NOTICE_FILES})
    inspected = [(upload, *inspect_upload(upload)) for upload in files]

    # Attachments are staged before the transaction (tasks.evidence_files): kept once the
    # notice commits, deleted when it does not, and never unknown to the portal after a crash.
    with staged_files() as staged:
        attachments = []
        for upload, name, content_type, sha256 in inspected:
            attachment = NoticeAttachment(original_name=name, size=upload.size, content_type=content_type, sha256=sha256)
            staged.save(attachment.file, name, upload)
            attachments.append(attachment)
        with transaction.atomic():
            notice = Notice.objects.create(
                city=city,
                sender=user,
                sender_region=profile.region,
                audience=audience,
                target_county=target_county,
                target_size=target_size,
                title=title,
                body=body,
            )
            for attachment in attachments:
                attachment.notice = notice
                attachment.save()
            recipients = notice_recipients(notice).exclude(pk=user.pk).values_list("pk", flat=True)
            notify(
                recipients,
                Notification.Kind.NOTICE,
                _("New notice from %(office)s: %(title)s") % {"office": profile.region.office_name, "title": title},
                reverse("notices:notice_detail", args=[notice.pk]),
                subject=notice_subject(notice.pk),
            )
    return notice


def notice_subject(notice_id: int) -> str:
    """The subject of the notifications about one notice: opening it marks them read."""
    return f"notice:{notice_id}"


def record_notice_read(user: AbstractBaseUser, notice: Notice) -> None:
    """Record that the user opened the notice (once; later opens change nothing), and mark
    the notification that announced it read."""
    NoticeRead.objects.bulk_create([NoticeRead(notice=notice, user=user)], ignore_conflicts=True)
    mark_read_for(user, notice_subject(notice.pk))


def may_see_readers(user: AbstractBaseUser, notice: Notice) -> bool:
    """The sender's office (the same role and region) sees who has read a notice."""
    profile = Profile.for_user(user)
    return may_publish_notices(profile) and profile.region_id == notice.sender_region_id
