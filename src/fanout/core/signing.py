"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com): what a receiver checks to
know a request came from this service and was not altered or replayed.

A request carries ``webhook-id`` (the same on every retry, so a receiver dedupes),
``webhook-timestamp`` (epoch seconds, so a receiver refuses old replays) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` per secret,
space-separated, so a receiver holding either the old or the new secret verifies while a secret
rotates. The body signed is the exact bytes sent. Secrets are ``whsec_`` + base64 of the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 16
MAX_SECRETS = 4


class BadSecret(ValueError):
    """A secret that is not ``whsec_`` + base64 of at least 16 bytes (its value never quoted)."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecret("a signing secret starts with whsec_")
    text = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadSecret("a signing secret is whsec_ followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise BadSecret(f"a signing secret's key has at least {MIN_KEY_BYTES} bytes")
    return key


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is not a usable literal secret (None when it is)."""
    try:
        secret_key(secret)
    except BadSecret as exc:
        return str(exc)
    return None


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` as sent."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a request signed with each of ``secrets`` (old and new while rotating)."""
    if not secrets:
        raise BadSecret("no signing secret")
    signatures = " ".join(signature(secret_key(s), msg_id, timestamp, body) for s in secrets[:MAX_SECRETS])
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signatures}


def split_secrets(value: str) -> list[str]:
    """A resolved secret value: one ``whsec_`` secret, or several separated by spaces (rotation)."""
    return value.split()
