from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from accounts import password_reset
from accounts.views import PasswordChangeView, text_size, unlock_accounts
from enterprises.views import home
from scoring.urls import urlpatterns as scoring_urlpatterns
from spreadsheets.urls import ranking_export_urlpatterns

# The admin under the portal's name (Django's reads "Django 管理").
admin.site.site_header = _("Reform check-in portal")
admin.site.site_title = _("Reform check-in portal")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", home, name="home"),
    # A lockout (django-axes: AxesStandaloneBackend + AxesMiddleware) answers this form with
    # accounts.security.lockout_response, as it does the admin's login and the API token.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Wrong current passwords count as failed logins here (accounts.security).
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/unlock/", unlock_accounts, name="unlock_accounts"),
    # 忘记密码 (accounts.password_reset): the same answer for every input, limited per address.
    path("accounts/password/reset/", password_reset.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", password_reset.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        password_reset.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        password_reset.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # 账号管理 and 我的账号 (accounts.onboarding).
    path("accounts/", include("accounts.urls")),
    # 大字模式 (accounts.preferences): POST only, from the switch in every page's header.
    path("accounts/text-size/", text_size, name="text_size"),
    # The admin's own password form does not count wrong current passwords: its link leads
    # to the portal's, which does (and where the demo password's forced change already leads).
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
    path("tasks/", include("tasks.urls")),
    # The ranking downloads are the spreadsheets app's views under the rankings' paths and
    # "scoring:" names (docs/CONTRACT.md): one namespace made of both apps' patterns.
    path("rankings/", include((scoring_urlpatterns + ranking_export_urlpatterns, "scoring"))),
    path("dashboard/", include("dashboards.urls")),
    path("notices/", include("notices.urls")),
    path("spreadsheets/", include("spreadsheets.urls")),
    path("api/", include("api.urls")),
]

# JSON under /api/, the site's pages elsewhere; a lost database is a 503 (error_views.py).
handler400 = "chanjgai_portal.error_views.bad_request"
handler403 = "chanjgai_portal.error_views.permission_denied"
handler404 = "chanjgai_portal.error_views.page_not_found"
handler500 = "chanjgai_portal.error_views.server_error"
