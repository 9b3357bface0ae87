"""The hasher of one-time initial passwords.

An initial password is random (≥ 10 characters of 55, about 60 bits or more) and lives until
its owner's first login, so the slow default hash (1,000,000 PBKDF2 rounds, most of a second
each) protects nothing more, while an import issuing a thousand of them would take minutes.
Django upgrades the hash to the default one at the first login with it, without counting it
as a password change (the account stays "must change password": accounts.InitialPassword).
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class InitialPasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_initial"
    iterations = 20_000
