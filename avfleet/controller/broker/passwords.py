"""Mosquitto password-file entries in its `$7$` format (PBKDF2-SHA512), written without the binary.

Mosquitto 2.x `mosquitto_passwd` writes `user:$7$<iterations>$<base64 salt>$<base64 hash>` with a
12-byte salt, 101 iterations and a 64-byte PBKDF2-HMAC-SHA512 key; Mosquitto accepts the same here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

ITERATIONS = 101
SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    iterations, salt, key = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=len(key))
    return secrets.compare_digest(candidate, key)


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def set_password(passwd_file: Path, username: str, password: str) -> None:
    """Add or replace `username` in a Mosquitto password file, keeping the other lines."""
    if ":" in username or not username:
        raise ValueError(f"invalid Mosquitto username {username!r}")
    lines = passwd_file.read_text().splitlines() if passwd_file.exists() else []
    kept = [line for line in lines if line and not line.startswith(f"{username}:")]
    kept.append(f"{username}:{hash_password(password)}")
    write_private(passwd_file, "\n".join(kept) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (secrets, keys, password hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
