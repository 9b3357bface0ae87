from django.urls import path

from . import views

app_name = "scoring"

urlpatterns = [
    path("", views.rankings, name="rankings"),
    path("export/counties.xlsx", views.export_counties, name="export_counties"),
    path("export/enterprises.xlsx", views.export_enterprises, name="export_enterprises"),
]
