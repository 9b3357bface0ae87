from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Login security")

    def ready(self):
        # Registers the receivers that revoke API tokens on a password change and flag a
        # login with the demo password: they must listen from the start, in every process.
        from . import security  # noqa: F401
