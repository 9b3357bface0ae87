from django.urls import path

from . import batch_views, views

app_name = "tasks"

urlpatterns = [
    path("", views.assignment_list, name="assignment_list"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment_detail"),
    path("assignments/<int:pk>/submit/", views.submit, name="submit"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/batch/", batch_views.batch_confirm, name="batch_confirm"),
    path("review/batch/decide/", batch_views.batch_decide, name="batch_decide"),
    path("review/batch/result/<str:token>/", batch_views.batch_result, name="batch_result"),
    path("checkins/<int:pk>/", views.checkin_detail, name="checkin_detail"),
    path("checkins/<int:pk>/approve/", views.approve, name="approve"),
    path("checkins/<int:pk>/return/", views.return_checkin, name="return_checkin"),
    path("checkins/<int:pk>/score/", views.score, name="score"),
    path("checkins/<int:pk>/reopen/", views.reopen, name="reopen"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence_download"),
    path("evidence/<int:pk>/preview/", views.evidence_preview_status, name="evidence_preview_status"),
    path("evidence/<int:pk>/thumb/", views.evidence_thumb, name="evidence_thumb"),
    path("evidence/<int:pk>/pages/<int:page>/", views.evidence_page, name="evidence_page"),
]
