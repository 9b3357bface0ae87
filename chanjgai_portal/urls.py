from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from enterprises.views import home

urlpatterns = [
    path("", home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("tasks/", include("tasks.urls")),
    path("rankings/", include("scoring.urls")),
    path("dashboard/", include("dashboards.urls")),
    path("notices/", include("notices.urls")),
    path("spreadsheets/", include("enterprises.spreadsheet_urls")),
    path("api/", include("api.urls")),
]
