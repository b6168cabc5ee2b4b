"""Reading a request body under a size limit, for the routes that read theirs as a stream.

The request limits (api/limits.py) have refused an oversized body before the route reads it, their
table taking the same constant and setting the routes pass here, so this check is a second line of
defence, for an app run without that middleware. An oversized body gets 413 `PAYLOAD_TOO_LARGE`,
whether its Content-Length says so up front or it grows past the limit while streaming. It is
still read and dropped up to `DRAIN_BYTES` more before the answer: a server that answers and
closes while the client is still sending makes the client see a connection reset instead of the
413 (seen in CI with httpx on a 2 MB body).
"""

from __future__ import annotations

from fastapi import Request

from einvoice.errors import PayloadTooLarge

DRAIN_BYTES = 2 * 1024 * 1024  # read and dropped beyond the limit before a 413, at most


async def read_body(request: Request, limit: int, too_large: str) -> bytes:
    """The whole body, at most `limit` bytes; otherwise PayloadTooLarge(`too_large`)."""
    declared = request.headers.get("content-length")
    over = declared is not None and declared.isdigit() and int(declared) > limit
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if not over:
            body += chunk
            over = len(body) > limit
        if over and received > limit + DRAIN_BYTES:
            break
    if over:
        raise PayloadTooLarge(too_large)
    return bytes(body)
