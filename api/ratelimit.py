"""Per-client rate limits: token buckets, one per client and kind of request, in each process.

The limits are published (docs/registry.md) and generous enough for accounting software's
bursts. A client over its limit gets 429 with Retry-After saying when a request will pass again,
never a lock-out. Buckets live in each API process: with P processes behind a load balancer a
client can reach up to P times these rates; set the class limits with that in mind.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
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
    # Anyone without a key (the public check of an invoice), by client address.
    "public": {"verify": Limit(5, 20)},
    # For the largest sellers and service providers that submit for many clients.
    "large": {
        "submit": Limit(500, 1000),
        "batch": Limit(10, 50),
        "lookup": Limit(500, 1000),
        "admin": Limit(20, 50),
    },
}


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, dict[str, Limit]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or LIMITS
        self.clock = clock
        self._buckets: dict[tuple[uuid.UUID, str], tuple[float, float]] = {}

    def take(self, client_id: uuid.UUID, rate_class: str, kind: str) -> None:
        """Spend one token, or raise RateLimited with the seconds until one is available."""
        limit = self.limits.get(rate_class, self.limits["standard"])[kind]
        now = self.clock()
        tokens, then = self._buckets.get((client_id, kind), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
        if tokens < 1.0:
            self._buckets[(client_id, kind)] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / limit.per_second)
            raise RateLimited(
                f"over the limit of {limit.per_second:g} {kind} requests/s "
                f"(burst {limit.burst}); retry after {wait} s",
                retry_after_s=max(1, wait),
            )
        self._buckets[(client_id, kind)] = (tokens - 1.0, now)
