"""API token authentication: django-rest-knox's tokens, which expire and can be revoked.

Clients send `Authorization: Token <key>` as they did with DRF's tokens. knox stores only a
SHA-512 digest of the key. Expiry (settings.REST_KNOX, from API_TOKEN_IDLE_HOURS and
API_TOKEN_MAX_DAYS): a token is issued to expire after the idle time; knox's AUTO_REFRESH
moves the expiry to now + the idle time on each use (written at most once a minute,
MIN_REFRESH_INTERVAL), never past the issue time + AUTO_REFRESH_MAX_TTL. So a token is refused
once it has been unused for the idle time, or once the absolute limit has passed, and knox
deletes it then. Revoking (logout, password change, the city office) is in
accounts.security.
"""

import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from knox.signals import token_expired
from rest_framework import exceptions


class AccountDisabled(exceptions.AuthenticationFailed):
    default_detail = _("This account is disabled.")


class ExpiringTokenAuthentication(TokenAuthentication):
    """knox's TokenAuthentication, refusing a malformed key before it reaches the database
    (a NUL made PostgreSQL's driver raise: a 500) and saying in Chinese what a client does
    about a refused token."""

    refused = _("This API token is invalid, has expired or was revoked: get a new one from /api/auth/token/.")

    def authenticate_credentials(self, token):
        try:
            key = token.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(self.refused) from None
        if not self._key_shape().fullmatch(key):
            raise exceptions.AuthenticationFailed(self.refused)
        try:
            return super().authenticate_credentials(token)
        except AccountDisabled:
            raise
        except exceptions.AuthenticationFailed:
            # knox's "Invalid token.": unknown, expired (knox deletes it) or revoked.
            raise exceptions.AuthenticationFailed(self.refused) from None

    def _cleanup_token(self, auth_token) -> bool:
        """Whether this token has expired (then deleted). knox also loads and deletes the
        user's other expired tokens here, one more query on every API request; the
        housekeeping job (accounts.celery_tasks.delete_expired_api_tokens) deletes those."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            token_expired.send(sender=type(self), username=auth_token.user.get_username(), source="auth_token")
            return True
        return False

    def validate_user(self, auth_token):
        if not auth_token.user.is_active:
            raise AccountDisabled()
        return (auth_token.user, auth_token)

    @staticmethod
    def _key_shape():
        # The prefix (empty by default) and the hex digits knox.crypto.create_token_string makes.
        prefix = re.escape(knox_settings.TOKEN_PREFIX)
        return re.compile(rf"{prefix}[0-9a-f]{{{knox_settings.AUTH_TOKEN_CHARACTER_LENGTH}}}")
