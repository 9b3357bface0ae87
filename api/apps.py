from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("REST API")


class KnoxConfig(AppConfig):
    """django-rest-knox (the API's tokens) under Chinese names in the admin. knox names neither its app
    nor its model, so the names are set here, on the model's options only (its migrations keep theirs)."""

    name = "knox"
    verbose_name = _("API tokens")

    def ready(self):
        token = self.get_model("AuthToken")
        token._meta.verbose_name = _("API token")
        token._meta.verbose_name_plural = _("API tokens")
