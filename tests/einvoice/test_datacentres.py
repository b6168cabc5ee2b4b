"""Where invoice numbers are decided when replicas span datacentres (einvoice/datacentres.py):
seller homes, and the settings that would let two datacentres accept one number, refused (pure).
The real two-datacentre cluster: tests/storage/test_two_datacentres.py."""

from __future__ import annotations

import pytest
from cassandra.cluster import NoHostAvailable
from pydantic import ValidationError

from einvoice.config import Settings
from einvoice.datacentres import PAUSED, SellerHomes, replication_datacentres
from storage.cassandra.client import ClaimRouting, home_profile

TWO = "NetworkTopologyStrategy:hanoi=3,hcmc=3"


def test_homes_by_tax_code_prefix() -> None:
    homes = SellerHomes.parse("hanoi=00-29, hcmc=30-79 ,hanoi=80-98,paused=99")

    assert homes.home_of("0100109106") == "hanoi"
    assert homes.home_of("3512345678-001") == "hcmc"
    assert homes.home_of("8012345678") == "hanoi"
    assert homes.home_of("9912345678") == PAUSED
    assert homes.datacentres == {"hanoi", "hcmc"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hanoi=00-49", "none for 50, 51, 52, 53, 54 ..."),
        ("hanoi=00-60,hcmc=50-99", "prefix 50 is homed twice"),
        ("hanoi=49-00", "backwards"),
        ("hanoi=0-99", "expected"),
        ("hanoi:00-99", "expected"),
    ],
)
def test_homes_must_give_every_prefix_exactly_one_home(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SellerHomes.parse(text)


def test_replicas_by_datacentre() -> None:
    assert replication_datacentres({"class": "SimpleStrategy", "replication_factor": "3"}) is None
    assert replication_datacentres(
        {"class": "NetworkTopologyStrategy", "hanoi": "3", "hcmc": "0"}
    ) == frozenset({"hanoi"})


def test_one_datacentre_needs_nothing_more() -> None:
    Settings()
    Settings(cassandra_replication="NetworkTopologyStrategy:datacenter1=3")
    Settings(
        cassandra_replication="NetworkTopologyStrategy:datacenter1=3",
        cassandra_claim_consistency="serial",
    )


def test_two_datacentres_with_homes_or_at_serial_are_accepted() -> None:
    homed = Settings(
        cassandra_replication=TWO,
        cassandra_local_dc="hcmc",
        cassandra_seller_homes="hanoi=00-49,hcmc=50-99",
    )
    assert homed.seller_homes() == SellerHomes.parse("hanoi=00-49,hcmc=50-99")
    Settings(
        cassandra_replication=TWO, cassandra_local_dc="hanoi", cassandra_claim_consistency="serial"
    )


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        # The hazard itself: each datacentre's own Paxos quorum could accept the same number.
        ({"cassandra_replication": TWO, "cassandra_local_dc": "hanoi"}, "LOCAL_SERIAL would let"),
        (
            {
                "cassandra_replication": TWO,
                "cassandra_local_dc": "hanoi",
                "cassandra_claim_consistency": "serial",
                "cassandra_seller_homes": "hanoi=00-49,hcmc=50-99",
            },
            "choose one",
        ),
        (
            {"cassandra_replication": TWO, "cassandra_seller_homes": "hanoi=00-49,hcmc=50-99"},
            "LOCAL_DC=datacenter1 has no replicas",
        ),
        (
            {
                "cassandra_replication": TWO,
                "cassandra_local_dc": "hanoi",
                "cassandra_seller_homes": "hanoi=00-49,danang=50-99",
            },
            "without replicas: danang",
        ),
        ({"cassandra_seller_homes": "datacenter1=00-99"}, "need NetworkTopologyStrategy"),
        (
            {
                "cassandra_replication": "NetworkTopologyStrategy:datacenter1=3",
                "cassandra_seller_homes": "datacenter1=00-99",
            },
            "two or more datacentres",
        ),
        ({"cassandra_seller_homes": "datacenter1=00-98"}, "none for 99"),
    ],
)
def test_combinations_that_could_break_uniqueness_are_refused(
    settings: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings.model_validate(settings)


def test_claims_go_to_the_home_datacentres_profile_and_paused_ones_nowhere() -> None:
    routing = ClaimRouting(SellerHomes.parse("hanoi=00-49,hcmc=50-98,paused=99"))

    assert routing.profile_for("0100109106") == home_profile("hanoi")
    assert routing.profile_for("7900000000") == home_profile("hcmc")
    with pytest.raises(NoHostAvailable, match="paused"):  # 503 with Retry-After: api/errors.py
        routing.profile_for("9900000000")
    assert routing.read_profile_for("9900000000") is None  # reads decide nothing: local
    assert routing.read_profile_for("0100109106") == home_profile("hanoi")
    assert ClaimRouting().profile_for("0100109106") is None  # one datacentre: the default
