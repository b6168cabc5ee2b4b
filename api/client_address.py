"""The caller's address, as the per-address limits count it (the public check, failed
authentications): the peer of the connection, or, when that peer is a trusted proxy, the address
the proxies recorded in X-Forwarded-For.

Only proxies listed in EINVOICE_TRUSTED_PROXIES are believed (none by default: anyone can write
the header). Each proxy appends the address it received the request from, so the list is read
from the right: the right-most address that is not a trusted proxy is the client; anything left of
it was written by the client itself and could be anything. When every address is a trusted proxy,
the left-most one is the best there is.

An IPv6 address counts as its /64 network: one subscriber is routinely given a whole /64, and
would otherwise have 2^64 addresses to spread its requests over.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import Request

from api.lifespan import Clients

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: Request) -> str | None:
    """The caller's address for per-address limits; None when the server gives no peer."""
    clients: Clients = request.state.clients
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return address_from(peer, forwarded, clients.settings.trusted_proxies)


def address_from(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """Pure: the caller's address from the connection's peer, the X-Forwarded-For header lines
    (in the order received), and the trusted proxies' networks."""
    if peer is None:
        return None
    if not trusted or not forwarded_for:
        # The common case (no proxy configured) parses nothing unless the peer is IPv6.
        return _counted(_parsed(peer), peer) if ":" in peer else peer
    nearest = _parsed(peer)
    if nearest is None or not _is_trusted(nearest, trusted):
        return _counted(nearest, peer)
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    for hop in reversed(hops):
        address = _parsed(hop)
        if address is None:
            # Not an address: no trusted proxy writes that, so the hop is the client's own
            # text; the nearest proxy that is known is the best address there is.
            break
        nearest = address
        if not _is_trusted(address, trusted):
            break
    return _counted(nearest, str(nearest))


def _parsed(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    return address


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _counted(address: Address | None, text: str) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address) if address is not None else text
