from django.urls import path

from notifications import views as notification_views

from . import views

app_name = "notices"
urlpatterns = [
    path("", views.notice_list, name="notice_list"),
    path("new/", views.notice_create, name="notice_create"),
    path("<int:pk>/", views.notice_detail, name="notice_detail"),
    path("<int:pk>/readers/", views.notice_readers, name="notice_readers"),
    path("attachments/<int:pk>/", views.notice_attachment, name="notice_attachment"),
    # The bell's pages (notifications app), under the path and names they always had.
    path("notifications/", notification_views.notification_list, name="notification_list"),
    path("notifications/read-all/", notification_views.mark_all_read, name="mark_all_read"),
    path("notifications/email/", notification_views.email_preference, name="notification_email_preference"),
    path("notifications/<int:pk>/", notification_views.notification_open, name="notification_open"),
    path("needs/", views.need_list, name="need_list"),
    path("needs/new/", views.need_create, name="need_create"),
    path("needs/<int:pk>/", views.need_detail, name="need_detail"),
    path("needs/<int:pk>/reply/", views.need_reply, name="need_reply"),
    path("needs/<int:pk>/forward/", views.need_forward, name="need_forward"),
    path("needs/<int:pk>/resolve/", views.need_resolve, name="need_resolve"),
    path("needs/<int:pk>/attachment/", views.need_attachment, name="need_attachment"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/new/<int:checkin_pk>/", views.case_create, name="case_create"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/evidence/<int:evidence_pk>/", views.case_evidence_download, name="case_evidence"),
]
