from django.urls import path

from . import account_views

app_name = "accounts"

urlpatterns = [
    path("people/", account_views.account_list, name="list"),
    path("people/new/", account_views.account_create, name="create"),
    path("people/events/", account_views.account_events, name="events"),
    path("people/<int:pk>/", account_views.account_detail, name="detail"),
    path("people/<int:pk>/<slug:action>/", account_views.account_action, name="action"),
    path("sheets/<uuid:sheet_id>/", account_views.sheet_detail, name="sheet"),
    path("sheets/<uuid:sheet_id>/download/", account_views.sheet_download, name="sheet_download"),
    path("sheets/<uuid:sheet_id>/handed-out/", account_views.sheet_discard, name="sheet_discard"),
    path("me/", account_views.my_account, name="me"),
]
