"""The caller's address behind trusted proxies, and the limiter's bounded buckets (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from api.client_address import Network, address_from
from api.ratelimit import MAX_BUCKETS, Limit, RateLimiter
from einvoice.config import Settings
from einvoice.errors import RateLimited

PROXIES: list[Network] = [
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("fd00::/8"),
]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "caller"),
    [
        # No proxy trusted, or the peer is not one: the header is anyone's text.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # The right-most address that is not a trusted proxy; what the client wrote is ignored.
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6", "198.51.100.1, 10.0.0.2"], "198.51.100.1"),
        # A hop that is no address was not written by a trusted proxy: the nearest known one.
        ("10.0.0.1", ["198.51.100.1, junk, 10.0.0.3"], "10.0.0.3"),
        # Every hop a trusted proxy: the left-most is the best there is.
        ("10.0.0.1", ["10.0.0.5, 10.0.0.4"], "10.0.0.5"),
        # No header from a trusted proxy: the proxy itself.
        ("10.0.0.1", [], "10.0.0.1"),
        # IPv6 counts per /64; an IPv4-mapped address is its IPv4 address.
        ("2001:db8:1:2::7", [], "2001:db8:1:2::/64"),
        ("fd00::1", ["2001:db8:1:2:aaaa::1"], "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", [], "203.0.113.9"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_caller_behind_trusted_proxies(
    peer: str | None, forwarded_for: list[str], caller: str | None
) -> None:
    assert address_from(peer, forwarded_for, PROXIES) == caller


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert address_from("10.0.0.1", ["198.51.100.1"], []) == "10.0.0.1"


def test_trusted_proxies_are_read_as_comma_separated_networks() -> None:
    settings = Settings(trusted_proxies="10.0.0.0/8, fd00::/8")

    assert settings.trusted_proxies == tuple(PROXIES)
    assert Settings().trusted_proxies == ()
    with pytest.raises(ValueError, match="network"):
        Settings(trusted_proxies="10.0.0.1/8")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_distinct_keys_stays_under_the_bound() -> None:
    bounded = RateLimiter({"public": {"verify": Limit(5, 20)}}, Clock(), max_buckets=10_000)
    default = RateLimiter({"public": {"verify": Limit(5, 20)}}, Clock())

    largest = 0
    for address in range(100_000):
        bounded.take(address, "public", "verify")
        default.take(address, "public", "verify")
        largest = max(largest, len(bounded))

    assert largest <= 10_000
    assert len(default) <= MAX_BUCKETS


def test_full_buckets_go_first_and_a_spent_one_is_kept() -> None:
    clock = Clock()
    limiter = RateLimiter({"public": {"verify": Limit(1, 2)}}, clock, max_buckets=100)
    limiter.take("abuser", "public", "verify")
    limiter.take("abuser", "public", "verify")
    for address in range(99):
        limiter.take(address, "public", "verify")
    clock.now += 1.5  # the 99 have refilled to their burst; the abuser has half a token

    limiter.take("newcomer", "public", "verify")  # over the bound: the sweep runs

    assert len(limiter) == 2
    limiter.take("abuser", "public", "verify")  # its 1.5 tokens were kept: one more, not two
    with pytest.raises(RateLimited):
        limiter.take("abuser", "public", "verify")


def test_a_token_given_back_is_spendable_again_but_never_beyond_the_burst() -> None:
    limiter = RateLimiter({"public": {"authenticate": Limit(1, 2)}}, Clock())

    limiter.take("a", "public", "authenticate")
    limiter.take("a", "public", "authenticate")
    limiter.give_back("a", "public", "authenticate")
    limiter.take("a", "public", "authenticate")
    with pytest.raises(RateLimited):
        limiter.take("a", "public", "authenticate")
    for _ in range(5):
        limiter.give_back("b", "public", "authenticate")
    limiter.take("b", "public", "authenticate")
    limiter.take("b", "public", "authenticate")
    with pytest.raises(RateLimited):
        limiter.take("b", "public", "authenticate")
