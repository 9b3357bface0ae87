"""Messages of Django itself whose zh_Hans wording the portal overrides.

Never imported: `make messages-update` (makemessages) reads it (it skips locale/) so that these msgids stay in
locale/zh_Hans/LC_MESSAGES/django.po, which Django consults before its own catalogue.
"""

from django.utils.translation import gettext_noop

OVERRIDDEN = [
    # Django's own reads 不允许是用空字符串。, which is wrong (NUL is not an empty string).
    gettext_noop("Null characters are not allowed."),
]
