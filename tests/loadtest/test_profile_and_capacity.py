"""The annual profile and the capacity estimate (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.timezone import VIETNAM
from loadtest.capacity import ClusterCost, Measured, estimate
from loadtest.capacity import main as capacity_main
from loadtest.profile import (
    ANNUAL_INVOICES,
    SECONDS_PER_YEAR,
    TET,
    AnnualProfile,
    peak_rate,
    scaled_rate,
    yearly_total,
)


def test_the_year_adds_up_to_the_annual_volume() -> None:
    assert yearly_total(AnnualProfile(2026)) == pytest.approx(ANNUAL_INVOICES, rel=1e-9)


def test_peaks_are_several_times_the_average() -> None:
    average = ANNUAL_INVOICES / SECONDS_PER_YEAR

    assert 5 < peak_rate(AnnualProfile(2026)) / average < 12


def test_office_hours_month_ends_and_tet_shape_the_year() -> None:
    profile = AnnualProfile(2026)
    night = profile.rate(dt.datetime(2026, 3, 11, 3, tzinfo=VIETNAM))
    morning = profile.rate(dt.datetime(2026, 3, 11, 10, tzinfo=VIETNAM))
    month_end = profile.rate(dt.datetime(2026, 3, 30, 10, tzinfo=VIETNAM))
    before_tet = profile.rate(dt.datetime(2026, 2, 12, 10, tzinfo=VIETNAM))
    during_tet = profile.rate(dt.datetime(2026, 2, 18, 10, tzinfo=VIETNAM))
    sunday = profile.rate(dt.datetime(2026, 3, 15, 10, tzinfo=VIETNAM))

    assert night < morning < month_end
    assert during_tet < morning < before_tet
    assert sunday < morning
    assert TET[2026] == dt.date(2026, 2, 17)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0, max_value=1800), st.floats(min_value=1, max_value=1e6))
def test_a_compressed_replay_walks_the_year_in_order_and_scales_the_peak(
    at: float, capacity: float
) -> None:
    profile = AnnualProfile(2026)
    moment, rate = profile.replay(at, 1800)
    later, _ = profile.replay(min(at + 1, 1800), 1800)
    peak = peak_rate(profile, step_hours=24)

    assert dt.datetime(2026, 1, 1, tzinfo=VIETNAM) <= moment <= later
    assert rate > 0
    assert scaled_rate(peak, capacity, peak) == pytest.approx(capacity)


def test_the_capacity_estimate_follows_the_measurements() -> None:
    measured = Measured(
        submissions_per_api_process=100,
        lookups_per_api_process=1000,
        invoices_per_worker=100,
        invoices_per_cassandra_node=250,
        bytes_per_invoice=1600,
    )

    result = estimate(measured, national_peak=2000)

    # Real time 200/s at 60 % of 100/s (3.3 processes), plus 1,000 lookups/s at 600/s (1.7).
    assert result.api_processes == 5
    assert result.workers == 30  # 1,800/s batch at 60/s
    assert result.cassandra_nodes_for_load == 40  # 2,000 x 3 replicas at 150/s
    assert result.stored_terabytes == 384.0  # 8e9 x 10 years x 1.6 KB x 3
    assert result.cassandra_nodes_for_data == 192  # 4 TB disks half full
    assert result.cassandra_nodes == 192


def test_cluster_costs_scale_to_processes_and_nodes_of_any_size() -> None:
    cost = ClusterCost(
        replicas=3,
        cassandra_batch_ms=1.2,
        cassandra_realtime_ms=4.8,
        service_realtime_ms=2.0,
        worker_ms=0.5,
        lookups_per_process=3000,
        bytes_per_replica=1000,
    )

    # 90 % batch at 0.4 ms a replica, 10 % real time at 1.6: 0.52 ms of one replica's CPU.
    assert cost.replica_ms(0.10) == pytest.approx(0.52)
    measured = cost.measured(node_cores=8)
    assert measured.invoices_per_cassandra_node == pytest.approx(8000 / 0.52)
    assert measured.submissions_per_api_process == 500  # one core each
    assert measured.invoices_per_worker == 2000
    assert measured.bytes_per_invoice == 1000


def test_the_national_estimate_says_what_decides(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_main([]) == 0
    printed = capsys.readouterr().out
    assert "peak 2,535/s (x10)" in printed
    assert "the data decides" in printed
    assert "in all" in printed
