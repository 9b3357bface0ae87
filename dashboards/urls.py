from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("", views.index, name="index"),
    path("city/", views.city, name="city"),
    path("county/", views.county, name="county"),
    path("enterprise/", views.enterprise, name="enterprise"),
    path("tasks/", views.assignment_list, name="assignment_list"),
    path("enterprises/", views.enterprise_list, name="enterprise_list"),
]
