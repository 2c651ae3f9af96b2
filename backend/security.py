"""Secrets: one-time codes, management tokens, unsubscribe links, hashed addresses.

Codes are six digits from :mod:`secrets` and are stored only as
``HMAC-SHA256(OTP_SECRET, email | code)``: a leaked database does not reveal live
codes, and a code is bound to the address it was sent to. Management tokens are
256 random bits stored as SHA-256 (they are already unguessable, so no key is
needed). Unsubscribe tokens are a MAC over the subscriber's random public id, so
every email can carry a working link without storing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

OTP_DIGITS = 6
TOKEN_BYTES = 32
_UNSUBSCRIBE_MAC_BYTES = 20


def generate_otp() -> str:
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def hash_otp(secret: bytes, email: str, code: str) -> str:
    message = f"otp|{email}|{code}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def otp_matches(secret: bytes, email: str, code: str, stored_hash: str) -> bool:
    """Constant-time comparison of a submitted code with the stored HMAC."""
    return hmac.compare_digest(hash_otp(secret, email, code), stored_hash)


def generate_token() -> str:
    """An opaque management token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def generate_public_id() -> str:
    return secrets.token_hex(16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsubscribe_token(secret: bytes, public_id: str) -> str:
    mac = hmac.new(secret, f"unsubscribe|{public_id}".encode(), hashlib.sha256).digest()
    return f"{public_id}.{_b64(mac[:_UNSUBSCRIBE_MAC_BYTES])}"


def parse_unsubscribe_token(secret: bytes, token: str) -> str | None:
    """The public id the token was made for, or ``None`` when it is not ours."""
    public_id, _, _mac = token.partition(".")
    if len(public_id) != 32 or not all(c in "0123456789abcdef" for c in public_id):
        return None
    expected = unsubscribe_token(secret, public_id)
    if not hmac.compare_digest(expected.encode(), token.encode("utf-8", "surrogatepass")):
        return None
    return public_id


def hash_client_address(secret: bytes, address: str) -> str:
    """A keyed hash of a client IP: enough to rate-limit, useless to anyone else."""
    return hmac.new(secret, f"ip|{address}".encode(), hashlib.sha256).hexdigest()
