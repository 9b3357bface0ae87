from django.urls import path

from . import views

app_name = "spreadsheets"

urlpatterns = [
    path("", views.index, name="index"),
    path("templates/<slug:kind>.xlsx", views.template, name="template"),
    path("import/<slug:kind>/", views.upload, name="upload"),
    path("import/<slug:kind>/<str:token>/", views.preview, name="preview"),
    path("import/<slug:kind>/<str:token>/status.json", views.preview_status, name="preview_status"),
    path("import/<slug:kind>/<str:token>/errors.xlsx", views.preview_errors, name="preview_errors"),
    path("import/<slug:kind>/<str:token>/confirm/", views.confirm, name="confirm"),
]

# The ranking downloads keep the paths and "scoring:" names they were published under
# (docs/CONTRACT.md): chanjgai_portal/urls.py serves them in the "scoring" namespace, under
# rankings/, next to scoring's own pages.
ranking_export_urlpatterns = [
    path("export/counties.xlsx", views.export_counties, name="export_counties"),
    path("export/enterprises.xlsx", views.export_enterprises, name="export_enterprises"),
    path("export/matrix.xlsx", views.export_matrix, name="export_matrix"),
    path("export/jobs/<int:pk>/", views.export_job, name="export_job"),
    path("export/jobs/<int:pk>/status.json", views.export_job_status, name="export_job_status"),
    path("export/jobs/<int:pk>/download/", views.export_job_download, name="export_job_download"),
]
