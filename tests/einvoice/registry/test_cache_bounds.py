"""The registry cache's own rules, without servers: expiry, bounds (misses kept apart from real
entries), stale answers only while an entry cannot be re-read and only within the bound, and
loads that a notification or a reset detached never storing what they read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from einvoice.registry.cache import _TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What the cache loads from: a dict, a count of reads, and a switch to fail as PostgreSQL
    does when it is away."""

    def __init__(self, values: dict[str, str | None] | None = None) -> None:
        self.values = dict(values or {})
        self.reads: list[str] = []
        self.failing: BaseException | None = None

    def load(self, key: str) -> Callable[[], Awaitable[str | None]]:
        async def read() -> str | None:
            self.reads.append(key)
            if self.failing is not None:
                raise self.failing
            return self.values.get(key)

        return read


def cache(clock: Clock, **bounds: float) -> _TtlCache[str]:
    settings: dict[str, float] = {
        "ttl_s": 30.0,
        "stale_s": 120.0,
        "max_entries": 1000,
        "max_missing": 1000,
    } | bounds
    return _TtlCache(
        "test",
        ttl_s=settings["ttl_s"],
        stale_s=settings["stale_s"],
        max_entries=int(settings["max_entries"]),
        max_missing=int(settings["max_missing"]),
        clock=clock,
    )


async def test_entries_are_served_from_memory_until_they_expire() -> None:
    clock, source = Clock(), Source({"a": "A1"})
    entries = cache(clock)

    first = await entries.get("a", source.load("a"))
    clock.now += 29
    source.values["a"] = "A2"
    cached = await entries.get("a", source.load("a"))
    clock.now += 2
    expired = await entries.get("a", source.load("a"))

    assert (first, cached, expired) == ("A1", "A1", "A2")
    assert source.reads == ["a", "a"]


async def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    clock, source = Clock(), Source({key: key.upper() for key in "abcd"})
    entries = cache(clock, max_entries=3)

    for key in "abc":
        await entries.get(key, source.load(key))
    await entries.get("a", source.load("a"))  # used again: "b" is now the oldest
    await entries.get("d", source.load("d"))
    source.reads.clear()
    for key in "acd":
        await entries.get(key, source.load(key))
    await entries.get("b", source.load("b"))

    assert source.reads == ["b"]


async def test_misses_never_push_out_found_entries() -> None:
    clock, source = Clock(), Source({key: key.upper() for key in "abc"})
    entries = cache(clock, max_entries=3, max_missing=2)
    for key in "abc":
        await entries.get(key, source.load(key))
    source.reads.clear()

    for number in range(1000):  # random ids nobody registered
        assert await entries.get(f"unknown-{number}", source.load(f"unknown-{number}")) is None
    for key in "abc":
        assert await entries.get(key, source.load(key)) == key.upper()

    assert [key for key in source.reads if not key.startswith("unknown-")] == []
    assert len(entries.missing) == 2
    assert len(entries.found) == 3


async def test_misses_are_cached_within_their_own_bound() -> None:
    clock, source = Clock(), Source()
    entries = cache(clock, max_missing=2)

    for _ in range(3):
        assert await entries.get("nobody", source.load("nobody")) is None

    assert source.reads == ["nobody"]


async def test_an_entry_that_cannot_be_re_read_is_served_until_the_bound() -> None:
    clock, source = Clock(), Source({"a": "A"})
    entries = cache(clock, ttl_s=30, stale_s=120)
    await entries.get("a", source.load("a"))
    source.failing = ConnectionRefusedError("PostgreSQL is away")

    entries.reset()  # the listener lost its connection
    after_reset = await entries.get("a", source.load("a"))
    clock.now += 119
    near_the_bound = await entries.get("a", source.load("a"))
    clock.now += 1
    with pytest.raises(ConnectionRefusedError):
        await entries.get("a", source.load("a"))
    with pytest.raises(ConnectionRefusedError):
        await entries.get("b", source.load("b"))  # a miss: nothing to serve

    assert (after_reset, near_the_bound) == ("A", "A")


async def test_a_stale_bound_of_zero_serves_nothing_that_cannot_be_re_read() -> None:
    clock, source = Clock(), Source({"a": "A"})
    entries = cache(clock, stale_s=0)
    await entries.get("a", source.load("a"))
    source.failing = TimeoutError()

    entries.reset()

    with pytest.raises(TimeoutError):
        await entries.get("a", source.load("a"))


async def test_errors_that_are_not_an_outage_are_never_answered_from_memory() -> None:
    clock, source = Clock(), Source({"a": "A"})
    entries = cache(clock)
    await entries.get("a", source.load("a"))
    source.failing = ValueError("a bug")

    entries.reset()

    with pytest.raises(ValueError, match="a bug"):
        await entries.get("a", source.load("a"))


async def test_an_entry_a_notification_removed_is_never_served_stale() -> None:
    clock, source = Clock(), Source({"a": "A"})
    entries = cache(clock)
    await entries.get("a", source.load("a"))
    source.failing = ConnectionRefusedError()

    entries.drop("a")

    with pytest.raises(ConnectionRefusedError):
        await entries.get("a", source.load("a"))


async def test_after_a_reset_entries_are_re_read_and_the_new_value_served() -> None:
    clock, source = Clock(), Source({"a": "A1"})
    entries = cache(clock)
    await entries.get("a", source.load("a"))
    source.values["a"] = "A2"  # changed while nobody was listening

    entries.reset()

    assert await entries.get("a", source.load("a")) == "A2"
    assert await entries.get("a", source.load("a")) == "A2"
    assert source.reads == ["a", "a"]


class Gate:
    """A load that has read its value and waits to be released before returning it."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.read.set()
        await self.release.wait()
        return self.value


@pytest.mark.parametrize("detach", ["notification", "reset", "clear"])
async def test_a_load_detached_while_in_flight_does_not_store_what_it_read(detach: str) -> None:
    clock, source = Clock(), Source({"a": "new"})
    entries = cache(clock)
    old_read = Gate("old")
    in_flight = asyncio.create_task(entries.get("a", old_read))
    await old_read.read.wait()

    if detach == "notification":
        entries.drop("a")
    elif detach == "reset":
        entries.reset()
    else:
        entries.clear()
    old_read.release.set()
    answered = await in_flight

    assert answered == "old"  # its own caller, concurrent with the change
    assert await entries.get("a", source.load("a")) == "new"
    assert source.reads == ["a"]


async def test_a_caller_after_a_notification_does_not_wait_on_the_detached_load() -> None:
    clock, source = Clock(), Source({"a": "new"})
    entries = cache(clock)
    old_read = Gate("old")
    in_flight = asyncio.create_task(entries.get("a", old_read))
    await old_read.read.wait()

    entries.drop("a")
    after = await entries.get("a", source.load("a"))
    old_read.release.set()
    await in_flight

    assert after == "new"
    assert await entries.get("a", source.load("a")) == "new"


async def test_while_an_entry_is_re_read_others_get_it_at_once() -> None:
    clock, source = Clock(), Source({"a": "A1"})
    entries = cache(clock)
    await entries.get("a", source.load("a"))
    entries.reset()
    re_read = Gate("A2")
    leader = asyncio.create_task(entries.get("a", re_read))
    await re_read.read.wait()

    other = asyncio.create_task(entries.get("a", source.load("a")))
    await asyncio.sleep(0)  # one step: it must not wait on the re-read

    assert other.done()
    assert other.result() == "A1"
    re_read.release.set()
    assert await leader == "A2"
    assert await entries.get("a", source.load("a")) == "A2"


async def test_a_caller_going_away_does_not_fail_the_others_waiting_on_the_same_load() -> None:
    clock = Clock()
    entries = cache(clock)
    read = Gate("A")
    leader = asyncio.create_task(entries.get("a", read))
    await read.read.wait()
    follower = asyncio.create_task(entries.get("a", read))
    await asyncio.sleep(0)

    leader.cancel()
    read.release.set()

    assert await follower == "A"
    assert leader.cancelled()
    assert await entries.get("a", Source().load("a")) == "A"  # stored all the same
