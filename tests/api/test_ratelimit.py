"""Token buckets with a controlled clock (pure)."""

from __future__ import annotations

import uuid

import pytest

from api.ratelimit import LIMITS, Limit, RateLimiter
from einvoice.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter({"standard": {"submit": Limit(50, 100)}}, clock)
    client = uuid.uuid4()

    for _ in range(100):
        limiter.take(client, "standard", "submit")
    with pytest.raises(RateLimited) as refused:
        limiter.take(client, "standard", "submit")
    clock.now += 1.0
    for _ in range(50):
        limiter.take(client, "standard", "submit")

    assert refused.value.retry_after_s == 1
    assert refused.value.status == 429


def test_clients_and_kinds_have_separate_buckets() -> None:
    limiter = RateLimiter({"standard": {"submit": Limit(1, 1), "lookup": Limit(1, 1)}}, Clock())
    first, second = uuid.uuid4(), uuid.uuid4()

    limiter.take(first, "standard", "submit")
    limiter.take(first, "standard", "lookup")
    limiter.take(second, "standard", "submit")

    with pytest.raises(RateLimited):
        limiter.take(first, "standard", "submit")


def test_retry_after_says_when_a_slow_bucket_refills() -> None:
    limiter = RateLimiter({"standard": {"batch": Limit(0.25, 1)}}, Clock())
    client = uuid.uuid4()
    limiter.take(client, "standard", "batch")

    with pytest.raises(RateLimited) as refused:
        limiter.take(client, "standard", "batch")

    assert refused.value.retry_after_s == 4


def test_the_published_defaults_hold_accounting_software_bursts() -> None:
    submit = LIMITS["standard"]["submit"]

    assert submit.per_second >= 50
    assert submit.burst >= 100
