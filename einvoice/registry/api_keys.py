"""API keys: `einv_<client id, 32 hex>_<secret, 43 base64url>`, shown once, stored as a hash.

The secret is 256 random bits, so a plain SHA-256 of it is enough to store (there is no
dictionary to try, unlike passwords; a slow hash would only slow every request). Checking always
does the same work, whatever is wrong with the key: a malformed key is checked against a dummy
client, and the comparison is constant-time, so response time does not tell a valid key from a
revoked, unknown or malformed one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

_FORM = re.compile(r"einv_([0-9a-f]{32})_([A-Za-z0-9_-]{43})")
# Stands in for the client when a key is malformed or unknown, so the same work is done.
DUMMY_CLIENT_ID = uuid.UUID(int=0)
DUMMY_SECRET = "0" * 43
DUMMY_HASH = hashlib.sha256(b"no such client").digest()


@dataclass(frozen=True)
class NewApiKey:
    client_id: uuid.UUID
    api_key: str
    secret_hash: bytes


def new_api_key() -> NewApiKey:
    client_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)  # 43 characters
    return NewApiKey(client_id, f"einv_{client_id.hex}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def split_api_key(api_key: str) -> tuple[uuid.UUID, str, bool]:
    """(client id, secret, well-formed); a malformed key yields the dummy id and secret."""
    match = _FORM.fullmatch(api_key)
    if match is None:
        return DUMMY_CLIENT_ID, DUMMY_SECRET, False
    return uuid.UUID(hex=match.group(1)), match.group(2), True


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
