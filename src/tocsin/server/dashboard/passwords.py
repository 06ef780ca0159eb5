"""Password hashing with argon2id (argon2-cffi), and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_MIN = 10
PASSWORD_MAX = 1024

# argon2-cffi's defaults follow RFC 9106's second recommendation (argon2id, 64 MiB).
_hasher = PasswordHasher()
# Verified when the username is unknown, so the answer takes as long as for a real user
# and response times do not tell which usernames exist.
_DECOY_HASH = _hasher.hash("tocsin decoy password")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string: parameters and salt included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; with ``None`` (no such user) a decoy
    hash is checked and the answer is always ``False``."""
    try:
        matched = _hasher.verify(password_hash or _DECOY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or ``None``."""
    if len(password) < PASSWORD_MIN:
        return f"must be at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"must be at most {PASSWORD_MAX} characters"
    return None
