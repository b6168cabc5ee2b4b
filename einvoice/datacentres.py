"""Two or more datacentres: where each seller's invoice numbers are decided (docs/datacentres.md).

A claim (storage/cassandra/claims.py) is a Paxos round. At LOCAL_SERIAL its quorum is among the
replicas of the coordinator's datacentre only, so two datacentres could each accept the same
invoice number. The decision here: each seller is *homed* in one datacentre by the two-digit
province prefix of its tax code, and its claims always run at LOCAL_SERIAL on coordinators of
that datacentre, wherever the request arrived (storage/cassandra/client.py routes them). The
alternative, SERIAL across datacentres, stays available (`EINVOICE_CASSANDRA_CLAIM_CONSISTENCY`),
and the settings refuse every combination under which two datacentres could both decide.

`EINVOICE_CASSANDRA_SELLER_HOMES` names each datacentre with the prefix ranges homed there, for
example `hanoi=00-49,hcmc=50-99`; a name may appear more than once. Every prefix 00-99 must be
homed exactly once. The reserved name `paused` homes prefixes nowhere: their claims answer 503
until they are homed again, which is how sellers move safely from one datacentre to another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PAUSED = "paused"
PREFIXES = 100  # two decimal digits

_ITEM = re.compile(r"^([A-Za-z0-9_.-]+)=(\d{2})(?:-(\d{2}))?$")


@dataclass(frozen=True)
class SellerHomes:
    """The home datacentre of every two-digit tax-code prefix (`PAUSED`: none for now)."""

    by_prefix: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> SellerHomes:
        """From `dc=00-49,other=50-99`; ValueError naming the first problem."""
        homes: list[str | None] = [None] * PREFIXES
        for raw in text.split(","):
            item = raw.strip()
            match = _ITEM.match(item)
            if not match:
                raise ValueError(
                    f"{item!r}: expected '<datacentre>=<NN>' or '<datacentre>=<NN>-<NN>'"
                )
            name, first, last = (
                match.group(1),
                int(match.group(2)),
                int(match.group(3) or match.group(2)),
            )
            if last < first:
                raise ValueError(f"{item!r}: the range runs backwards")
            for prefix in range(first, last + 1):
                if homes[prefix] is not None:
                    raise ValueError(
                        f"prefix {prefix:02d} is homed twice ({homes[prefix]}, {name})"
                    )
                homes[prefix] = name
        unhomed = [f"{prefix:02d}" for prefix, home in enumerate(homes) if home is None]
        if unhomed:
            shown = ", ".join(unhomed[:5]) + (" ..." if len(unhomed) > 5 else "")
            raise ValueError(f"every prefix 00-99 needs a home; none for {shown}")
        return cls(tuple(home for home in homes if home is not None))

    @property
    def datacentres(self) -> frozenset[str]:
        """The datacentres that are home to some prefix (`paused` is not one)."""
        return frozenset(self.by_prefix) - {PAUSED}

    def home_of(self, seller_tax_code: str) -> str:
        """The home of a seller (a datacentre, or `PAUSED`). Tax codes are validated before any
        claim, so the prefix is two digits."""
        return self.by_prefix[int(seller_tax_code[:2])]


def replication_datacentres(replication: dict[str, str]) -> frozenset[str] | None:
    """The datacentres a keyspace's replication puts replicas in; None for SimpleStrategy, which
    places replicas without regard to datacentres."""
    if not replication.get("class", "").endswith("NetworkTopologyStrategy"):
        return None
    return frozenset(
        name for name, factor in replication.items() if name != "class" and int(factor) > 0
    )


def claim_safety_problem(
    datacentres: frozenset[str] | None,
    claim_consistency: str,
    homes: SellerHomes | None,
    local_dc: str,
) -> str | None:
    """Why this combination could let two datacentres accept one invoice number (or fail every
    claim), or None when it is safe. `datacentres`: where the keyspace has replicas (None:
    SimpleStrategy)."""
    if homes is not None and claim_consistency == "serial":
        return (
            "EINVOICE_CASSANDRA_SELLER_HOMES and EINVOICE_CASSANDRA_CLAIM_CONSISTENCY=serial "
            "are two answers to one question; choose one"
        )
    if datacentres is None:
        if homes is not None:
            return "seller homes need NetworkTopologyStrategy replication"
        return None
    if local_dc not in datacentres:
        return (
            f"EINVOICE_CASSANDRA_LOCAL_DC={local_dc} has no replicas in the keyspace's "
            f"replication ({', '.join(sorted(datacentres))})"
        )
    if len(datacentres) > 1 and claim_consistency == "local_serial" and homes is None:
        return (
            "with replicas in several datacentres, claims at LOCAL_SERIAL would let each "
            "datacentre accept the same invoice number: home every seller in one datacentre "
            "(EINVOICE_CASSANDRA_SELLER_HOMES) or claim at SERIAL "
            "(EINVOICE_CASSANDRA_CLAIM_CONSISTENCY=serial); docs/datacentres.md"
        )
    if homes is not None:
        if len(datacentres) < 2:
            return "seller homes need replicas in two or more datacentres"
        strangers = homes.datacentres - datacentres
        if strangers:
            return f"seller homes name datacentres without replicas: {', '.join(sorted(strangers))}"
    return None
