"""Per-client rate limits: token buckets, one per client and kind of request, in each process.

The limits are published (docs/registry.md) and generous enough for accounting software's
bursts. A client over its limit gets 429 with Retry-After saying when a request will pass again,
never a lock-out. Buckets live in each API process: with P processes behind a load balancer a
client can reach up to P times these rates; set the class limits with that in mind.

Buckets are keyed by client id, or by client address for callers without a key (the public
check, and failed authentications: api/auth.py). Their number is bounded (`max_buckets`), so a
flood of distinct addresses cannot grow the process without limit: past the bound, every bucket
that has refilled to its burst is dropped (a full bucket says nothing a new one would not), and
if that is not enough the least recently used go, down to nine tenths of the bound, so the sweep
runs at most once per tenth of the bound new keys.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from einvoice.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: int


# Requests per second and burst, by rate-limit class of the client and kind of request.
LIMITS: dict[str, dict[str, Limit]] = {
    "standard": {
        "submit": Limit(50, 100),
        "batch": Limit(2, 10),
        "lookup": Limit(100, 200),
        "admin": Limit(20, 50),
    },
    # The authority's own systems (officers' portals, benchmarks): limits far above any client's.
    "internal": {
        "submit": Limit(10_000, 20_000),
        "batch": Limit(100, 500),
        "lookup": Limit(50_000, 100_000),
        "admin": Limit(100, 500),
    },
    # Anyone without a key, by client address: the public check of an invoice, and API keys
    # checked in full (not yet known to this process) that fail. A bucket of the latter is spent
    # before the client is looked up and given back when the key is valid, so each address gets
    # at most this many registry lookups for keys that do not work (api/auth.py).
    "public": {"verify": Limit(5, 20), "authenticate": Limit(20, 50)},
    # For the largest sellers and service providers that submit for many clients.
    "large": {
        "submit": Limit(500, 1000),
        "batch": Limit(10, 50),
        "lookup": Limit(500, 1000),
        "admin": Limit(20, 50),
    },
}

# Enough for every client active in a few seconds at national scale; about 200 bytes each.
MAX_BUCKETS = 50_000


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, dict[str, Limit]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.limits = limits or LIMITS
        self.clock = clock
        self.max_buckets = max_buckets
        # (key, kind) -> (tokens, when last counted, its limit); least recently used first.
        self._buckets: OrderedDict[tuple[Hashable, str], tuple[float, float, Limit]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable, rate_class: str, kind: str) -> None:
        """Spend one token, or raise RateLimited with the seconds until one is available."""
        # One function, no helpers: this runs on every request, and each call of a helper cost
        # about a tenth of a microsecond (measured beside the version without the bound).
        limit = (self.limits.get(rate_class) or self.limits["standard"])[kind]
        now = self.clock()
        bucket_key = (key, kind)
        buckets = self._buckets
        bucket = buckets.get(bucket_key)
        if bucket is None:
            tokens = float(limit.burst)
            if len(buckets) >= self.max_buckets:
                self._sweep(now)
        else:
            tokens = min(float(limit.burst), bucket[0] + (now - bucket[1]) * limit.per_second)
            buckets.move_to_end(bucket_key)
        if tokens < 1.0:
            buckets[bucket_key] = (tokens, now, limit)
            wait = math.ceil((1.0 - tokens) / limit.per_second)
            raise RateLimited(
                f"over the limit of {limit.per_second:g} {kind} requests/s "
                f"(burst {limit.burst}); retry after {wait} s",
                retry_after_s=max(1, wait),
            )
        buckets[bucket_key] = (tokens - 1.0, now, limit)

    def give_back(self, key: Hashable, rate_class: str, kind: str) -> None:
        """Return the token a request took (it turned out not to count), up to the burst."""
        bucket = self._buckets.get((key, kind))
        if bucket is None:
            return  # not kept: it counts as full
        limit = bucket[2]
        now = self.clock()
        tokens = bucket[0] + (now - bucket[1]) * limit.per_second + 1.0
        self._buckets[(key, kind)] = (min(float(limit.burst), tokens), now, limit)

    def _sweep(self, now: float) -> None:
        """Make room: drop the buckets that have refilled, then the least recently used."""
        full = [
            bucket_key
            for bucket_key, (tokens, then, limit) in self._buckets.items()
            if tokens + (now - then) * limit.per_second >= limit.burst
        ]
        for bucket_key in full:
            del self._buckets[bucket_key]
        low_water = self.max_buckets * 9 // 10
        while len(self._buckets) > low_water:
            self._buckets.popitem(last=False)
