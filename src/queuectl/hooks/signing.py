"""Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric scheme v1).

The receiver checks ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
with the shared secret; ``webhook-id`` stays the same across retries, so it doubles as the
receiver's idempotency key, and ``webhook-timestamp`` is the time of this try, which lets a
receiver refuse replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from ..errors import ValidationError

SECRET_PREFIX = "whsec_"


def decode_secret(secret: str) -> bytes:
    """A ``whsec_`` secret is base64 after the prefix (the Standard Webhooks convention);
    any other secret is used as its UTF-8 bytes."""
    if not secret:
        raise ValidationError("the hook secret is empty")
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValidationError("a secret starting with whsec_ must be base64 after it") from None
    if not key:
        raise ValidationError("the hook secret is empty after whsec_")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    # The spec signs "id.timestamp.body"; an id or timestamp holding a "." could shift bytes
    # between the parts and forge another message's signature, so neither may hold one.
    if "." in msg_id or not msg_id:
        raise ValueError(f"webhook id {msg_id!r} must be non-empty and hold no '.'")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers for one try; unsigned hooks still get the id and timestamp."""
    out = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
    }
    if key is not None:
        out["webhook-signature"] = sign(key, msg_id, timestamp, body)
    return out
