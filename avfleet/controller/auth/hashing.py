"""Password hashes (Argon2id) and token digests (SHA-256 of 32 random bytes)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32
# argon2-cffi's defaults (RFC 9106 low-memory profile): about 50 ms and 64 MiB per hash here.
PRODUCTION = profiles.RFC_9106_LOW_MEMORY
_parameters: Parameters = PRODUCTION


def use_parameters(parameters: Parameters) -> Parameters:
    """For tests only: hash new passwords at another cost (argon2.profiles.CHEAPEST); the previous ones.

    A stored hash carries its own parameters, so verifying it costs what it cost to make; only new
    hashes (and the dummy hash of an unknown login name) follow this. Nothing in the package calls it.
    """
    global _parameters
    previous, _parameters = _parameters, parameters
    return previous


def password_hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(_parameters)


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when the password matches; a user without a password (or a damaged hash) never matches."""
    hasher = password_hasher()
    if stored is None:
        # Spend the same time as a real check so an unknown user cannot be told apart by timing.
        hasher.hash(password)
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A token or session secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    """What is stored of a token, session or CSRF secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
