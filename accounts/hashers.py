"""The hasher of one-time initial passwords.

An initial password is random (12 characters of 55: 69 bits) and lives until
its owner's first login, so the slow default hash (1,000,000 PBKDF2 rounds, most of a second
each) protects nothing more, while an import issuing a thousand of them would take minutes.
Django upgrades the hash to the default one at the first login with it, without counting it
as a password change (the account stays "must change password": accounts.InitialPassword).
Measured on the 2-core CI box under load: 1.5 s a hash by default, 30 ms at 20,000 rounds;
5,000 rounds make an import of 1,000 new accounts cost about 8 s of hashing.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class InitialPasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_initial"
    iterations = 5_000
