from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("enterprises", views.EnterpriseViewSet, basename="enterprise")
router.register("periods", views.PeriodViewSet, basename="period")
router.register("indicators", views.IndicatorViewSet, basename="indicator")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("checkins", views.CheckInViewSet, basename="checkin")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("evidence/<int:pk>/download/", views.EvidenceDownloadView.as_view(), name="evidence-download"),
    path("rankings/counties/", views.CountyRankingView.as_view(), name="rankings-counties"),
    path("rankings/enterprises/", views.EnterpriseRankingView.as_view(), name="rankings-enterprises"),
    # The schema and its browsable page are public documentation of the interface, no data.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # Swagger UI styles itself inline and draws its icons as data: URIs; only this page
    # gets that (the split view already keeps its own script out of the page).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["data:"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[AllowAny])
        ),
        name="docs",
    ),
    path("", include(router.urls)),
    re_path(r"", views.unknown_endpoint, name="unknown"),
]
