from django.urls import path

from . import views

app_name = "scoring"

urlpatterns = [
    path("", views.rankings, name="rankings"),
    path("counties/<int:county_id>/", views.county_detail, name="county_detail"),
    path("enterprises/<int:enterprise_id>/", views.enterprise_detail, name="enterprise_detail"),
    path("rule/", views.rule, name="rule"),
    path("export/counties.xlsx", views.export_counties, name="export_counties"),
    path("export/enterprises.xlsx", views.export_enterprises, name="export_enterprises"),
    path("export/matrix.xlsx", views.export_matrix, name="export_matrix"),
    path("export/jobs/<int:pk>/", views.export_job, name="export_job"),
    path("export/jobs/<int:pk>/status.json", views.export_job_status, name="export_job_status"),
    path("export/jobs/<int:pk>/download/", views.export_job_download, name="export_job_download"),
]
