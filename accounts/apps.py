from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    # The app's config when INSTALLED_APPS says "accounts": with AxesConfig beside it in this
    # module Django would pick neither, and a bare AppConfig would skip ready() below.
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Login security")

    def ready(self):
        # Registers the receivers that revoke API tokens on a password change and flag a
        # login with the demo password: they must listen from the start, in every process.
        from . import security  # noqa: F401


class AxesConfig(AxesAppConfig):
    """django-axes (login attempts and lockouts) under a Chinese name in the admin; its models' names
    are axes' own msgids, translated in the portal's catalogue (chanjgai_portal/translations.py)."""

    verbose_name = _("Login records")
