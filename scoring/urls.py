from django.urls import path

from . import views

app_name = "scoring"

urlpatterns = [
    path("", views.rankings, name="rankings"),
    path("counties/<int:county_id>/", views.county_detail, name="county_detail"),
    path("enterprises/<int:enterprise_id>/", views.enterprise_detail, name="enterprise_detail"),
    path("rule/", views.rule, name="rule"),
]
