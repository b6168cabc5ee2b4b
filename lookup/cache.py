"""The lookup cache in Redis: an invoice's stored document by its code, read through and written
through, with short-lived entries for codes that do not exist.

Only an accelerator: Cassandra is the record. Every Redis failure is counted and answered from
Cassandra instead (lookups stay up with Redis down); every entry expires.

An entry is `version \x1f seller \x1f buyer \x1f document JSON`: the access check needs only the
two tax codes, so a cache hit is answered with the cached bytes as they are, never parsed and
encoded again (measured: docs/lookup.md). Tax codes are digits and `-`, and orjson escapes
control characters, so the separator occurs nowhere else.

`version` is the invoice's state version (einvoice/lifecycle.py: 0 until it first changes).
Every write goes through one script that keeps the entry with the higher version, so a fill that
read the invoice before a status change, or a write-through delayed behind one, can never put
the older status back (docs/lifecycle.md). A status change writes its new entry and waits for
Redis (`put_changed`): once a change is answered, no lookup sees the old status.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
import redis.asyncio as redis
from prometheus_client import Counter, Gauge

from lookup.documents import parties
from storage.cassandra.invoices import ttl_seconds

log = logging.getLogger(__name__)

CACHE_TTL_S = 24 * 3600
MISS_TTL_S = 30  # a code that does not exist yet may be issued a moment later
_MISSING = b"-"

_SEPARATOR = b"\x1f"

CACHE_WRITES = Counter("einvoice_cache_writes_total", "Lookup-cache writes", ["result"])
CACHE_READS = Counter("einvoice_cache_reads_total", "Lookup-cache reads", ["result"])
# The API's processes together (einvoice/metrics_server.py): the most recent word of any of them.
CACHE_UP = Gauge(
    "einvoice_cache_available",
    "1 while the lookup cache answers, 0 when it fails",
    multiprocess_mode="livemostrecent",
)
# Label children bound once: `labels()` on every lookup was a measurable share of a cache hit.
_READ = {result: CACHE_READS.labels(result) for result in ("hit", "miss", "negative_hit", "error")}


def entry_ttl(document: dict[str, Any], now: dt.datetime) -> int:
    """A read-through entry's TTL: 24 h, or the invoice's remaining life when that is shorter, so
    an entry never outlives its invoice (docs/retention.md). Written-through entries need no cap:
    their invoices were authenticated a moment ago, with at least 9.5 years left."""
    issued = dt.date.fromisoformat(document["invoice"]["issued_date"])
    return min(CACHE_TTL_S, ttl_seconds(issued, now))


def code_key(code: str) -> str:
    # "doc2" (entries with a version), after "code" (plain JSON) and "doc" (no version): entries
    # of older formats are simply never read again and expire.
    return f"inv:doc2:{code}"


# KEYS[1] the entry; ARGV: the new entry, its version, its TTL. Keeps the entry of the higher
# version (a missing entry, or one that is not versioned, "-" for a missing code, yields).
_SET_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+)\\31'))
  if version and version > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class CachedDocument:
    """A stored invoice's lookup document: its JSON bytes, and the parties access depends on."""

    json: bytes
    seller: str
    buyer: str | None
    version: int = 0  # the invoice's state version

    @classmethod
    def of(cls, document: dict[str, Any], version: int = 0) -> CachedDocument:
        seller, buyer = parties(document)
        return cls(orjson.dumps(document), seller, buyer, version)

    @cached_property
    def document(self) -> dict[str, Any]:
        """The document itself, parsed when a caller needs its fields (the public check)."""
        parsed: dict[str, Any] = orjson.loads(self.json)
        return parsed

    def encode(self) -> bytes:
        buyer = (self.buyer or "").encode()
        return _SEPARATOR.join((b"%d" % self.version, self.seller.encode(), buyer, self.json))

    @classmethod
    def decode(cls, entry: bytes) -> CachedDocument:
        version, seller, buyer, json = entry.split(_SEPARATOR, 3)
        return cls(json, seller.decode(), buyer.decode() or None, int(version))


class CacheWriter:
    """One per process: real-time answers written through to the cache without waiting for it.

    `write` returns at once; the entries wait while a pipeline is in flight and the next pipeline
    takes all of them (one Redis round trip for many submissions under load, none waited for by
    the answer). Best effort, like every cache write: a failure is counted and logged, and the
    lookup reads Cassandra instead.
    """

    MAX_PIPELINE = 256

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._waiting: list[tuple[str, bytes]] = []
        self._task: asyncio.Task[None] | None = None

    def write(self, code: str, document: dict[str, Any]) -> None:
        """An invoice authenticated just now (state version 0)."""
        self._waiting.append((code_key(code), CachedDocument.of(document).encode()))
        if self._task is None:
            self._task = asyncio.ensure_future(self._send_waiting())

    async def drain(self) -> None:
        """Wait until every entry handed over so far is sent (tests, shutdown)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _send_waiting(self) -> None:
        try:
            await asyncio.sleep(0)  # entries of this same loop iteration join the first pipeline
            while self._waiting:
                entries = self._waiting[: self.MAX_PIPELINE]
                del self._waiting[: self.MAX_PIPELINE]
                await _write_entries(self.client, entries)
        finally:
            self._task = None


async def _write_entries(client: redis.Redis, entries: list[tuple[str, bytes]]) -> None:
    try:
        async with client.pipeline(transaction=False) as pipe:
            for key, value in entries:
                pipe.eval(_SET_NEWER, 1, key, value, 0, CACHE_TTL_S)
            await pipe.execute()
    except redis.RedisError as error:
        CACHE_WRITES.labels("error").inc(len(entries))
        CACHE_UP.set(0)
        log.warning("lookup cache write of %d entries failed: %s", len(entries), error)
        return
    CACHE_WRITES.labels("ok").inc(len(entries))


async def put_changed(client: redis.Redis, code: str, document: CachedDocument) -> None:
    """The entry of an invoice whose state changed, written before the change is answered (unless
    a newer one is there). Raises redis.RedisError: the caller answers 503 rather than let an old
    status stand, and the change's retry writes the entry again."""
    ttl = entry_ttl(document.document, dt.datetime.now(dt.UTC))
    try:
        await put_if_newer(client, code_key(code), document, ttl)
    except redis.RedisError:
        CACHE_WRITES.labels("error").inc()
        CACHE_UP.set(0)
        raise
    CACHE_WRITES.labels("ok").inc()


async def put_if_newer(client: redis.Redis, key: str, document: CachedDocument, ttl: int) -> None:
    """Set the entry unless the one there has a higher version (raises redis.RedisError)."""
    await client.eval(_SET_NEWER, 1, key, document.encode(), document.version, ttl)


async def read_through(
    client: redis.Redis, code: str, load: Callable[[], Awaitable[CachedDocument | None]]
) -> tuple[CachedDocument | None, str]:
    """(document or None, "hit" | "miss" | "negative_hit" | "bypass") for `code`."""
    key = code_key(code)
    try:
        cached = await client.get(key)
        CACHE_UP.set(1)
    except redis.RedisError as error:
        _READ["error"].inc()
        CACHE_UP.set(0)
        log.warning("lookup cache unavailable (%s); reading Cassandra", error)
        return await load(), "bypass"
    if cached == _MISSING:
        _READ["negative_hit"].inc()
        return None, "negative_hit"
    if isinstance(cached, bytes):  # the client answers bytes (no decode_responses)
        _READ["hit"].inc()
        return CachedDocument.decode(cached), "hit"
    _READ["miss"].inc()
    document_or_none = await load()
    try:
        if document_or_none is None:  # never over an entry written meanwhile
            await client.set(key, _MISSING, ex=MISS_TTL_S, nx=True)
        else:
            ttl = entry_ttl(document_or_none.document, dt.datetime.now(dt.UTC))
            await put_if_newer(client, key, document_or_none, ttl)
    except redis.RedisError as error:
        CACHE_UP.set(0)
        log.warning("lookup cache fill failed for %s: %s", code, error)
    return document_or_none, "miss"
