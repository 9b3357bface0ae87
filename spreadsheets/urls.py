from django.urls import path

from . import views

app_name = "spreadsheets"

urlpatterns = [
    path("", views.index, name="index"),
    path("templates/<slug:kind>.xlsx", views.template, name="template"),
    path("import/<slug:kind>/", views.upload, name="upload"),
    path("import/<slug:kind>/<str:token>/", views.preview, name="preview"),
    path("import/<slug:kind>/<str:token>/confirm/", views.confirm, name="confirm"),
]
