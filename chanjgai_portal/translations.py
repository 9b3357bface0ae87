"""Messages of Django itself, and of third-party apps, whose zh_Hans wording the portal sets or overrides.

Never imported: `make messages-update` (makemessages) reads it (it skips locale/) so that these msgids stay in
locale/zh_Hans/LC_MESSAGES/django.po, which Django consults before its own catalogue.
"""

from django.utils.translation import gettext_noop

OVERRIDDEN = [
    # Django's own reads 不允许是用空字符串。, which is wrong (NUL is not an empty string).
    gettext_noop("Null characters are not allowed."),
    # The admin index's column headers for screen readers, new in Django 5.1 and not in its zh_Hans catalogue.
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-axes has no Chinese catalogue: its models' names in the admin.
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
]
