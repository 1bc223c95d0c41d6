"""Tenant API keys: ``sk_`` + a URL-safe random secret. Only a SHA-256 hash and a short prefix are kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "sk_"
PREFIX_LENGTH = 11
"""``sk_`` and 8 characters of the secret: enough to recognise a key in a list, useless to guess it."""


@dataclass(frozen=True)
class NewKey:
    key: str
    """The whole key: shown once to the person issuing it, never stored or logged."""
    prefix: str
    key_hash: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(key=key, prefix=key[:PREFIX_LENGTH], key_hash=hash_key(key))
