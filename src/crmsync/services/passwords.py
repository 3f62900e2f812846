"""Password hashing with scrypt from ``cryptography`` (memory-hard, no extra dependency)."""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_N, _R, _P = 2**14, 8, 1


def _kdf(salt: bytes) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=_N, r=_R, p=_P)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _kdf(salt).derive(password.encode())
    return "scrypt$" + base64.b64encode(salt + digest).decode()


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    raw = base64.b64decode(stored.removeprefix("scrypt$"))
    salt, digest = raw[:16], raw[16:]
    candidate = _kdf(salt).derive(password.encode())
    return hmac.compare_digest(candidate, digest)
