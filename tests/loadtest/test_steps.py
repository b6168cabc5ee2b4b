"""The capacity run's arithmetic (pure): what a step sends, when it holds, the highest rate held,
and the time series the charts draw."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.steps import (
    BATCH,
    CHECK,
    LOOKUP,
    NATIONAL_AVERAGE,
    NATIONAL_PEAK,
    SUBMIT,
    Mix,
    Outcome,
    Stepper,
    StepPlan,
    StepResult,
    Thresholds,
    percentile,
    step_rates,
    step_result,
    summarise,
    timeline,
    verdict,
)


def test_a_step_sends_the_national_mix() -> None:
    plan = Mix().plan(rate=100, seconds=30)

    assert plan.invoices == 3000
    assert plan.real_time == 300  # 10 % in real time
    # 2,700 in batches of <= 500, at least one a second: 30 of 90.
    assert plan.batch_sizes == (90,) * 30
    assert plan.lookups == 1200  # 0.4 an invoice
    assert plan.checks == 300  # 0.1 an invoice
    assert plan.planned_rate == 100
    assert Mix().plan(rate=1000, seconds=30).batch_sizes == (500,) * 54  # 27,000 a step
    assert Mix().plan(rate=0.5, seconds=30).batch_sizes == (1,) * 13  # never an empty batch


@given(
    st.floats(min_value=0.5, max_value=5000),
    st.floats(min_value=1, max_value=120),
    st.integers(min_value=1, max_value=2000),
)
def test_batches_carry_every_batch_invoice_within_their_size(
    rate: float, seconds: float, lines: int
) -> None:
    plan = Mix(batch_lines=lines, batch_every_s=2).plan(rate, seconds)

    assert plan.invoices == round(rate * seconds)
    assert all(0 < size <= lines for size in plan.batch_sizes)
    assert max(plan.batch_sizes, default=0) - min(plan.batch_sizes, default=0) <= 1
    assert len(plan.batch_sizes) >= min(sum(plan.batch_sizes), seconds / 2)


def test_each_kind_is_spread_evenly_over_the_step_in_time_order() -> None:
    plan = StepPlan(rate=2, seconds=10, real_time=2, batch_sizes=(9,), lookups=4, checks=0)

    schedule = plan.schedule()

    assert [offset for offset, _, _ in schedule] == sorted(offset for offset, _, _ in schedule)
    assert [o for o, kind, _ in schedule if kind == SUBMIT] == [2.5, 7.5]
    assert [o for o, kind, _ in schedule if kind == BATCH] == [5.0]
    assert [o for o, kind, _ in schedule if kind == LOOKUP] == [1.25, 3.75, 6.25, 8.75]
    assert not [o for o, kind, _ in schedule if kind == CHECK]


def test_rates_rise_by_the_factor_up_to_the_maximum() -> None:
    assert step_rates(25, 2, max_rate=200, max_steps=10) == [25, 50, 100, 200]
    assert step_rates(25, 1.5, max_rate=1e6, max_steps=3) == [25, 37.5, 56.25]
    with pytest.raises(ValueError, match="factor"):
        step_rates(25, 1.0, max_rate=100, max_steps=3)


def test_a_failed_rate_is_tried_again_then_the_run_stops() -> None:
    stepper = Stepper([25, 50, 100], retries=1)
    tried = []
    for held in (True, False, True, False, False):
        rate = stepper.current()
        assert rate is not None
        tried.append((rate, stepper.retrying))
        stepper.record(held=held)

    assert tried == [(25, False), (50, False), (50, True), (100, False), (100, True)]
    assert stepper.current() is None


def test_a_run_that_held_every_rate_ends_after_the_last() -> None:
    stepper = Stepper([25, 50], retries=0)
    stepper.record(held=True)
    stepper.record(held=True)

    assert stepper.current() is None


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))

    assert percentile(values, 0.99) == 99
    assert percentile(values, 0.50) == 50
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.99) is None


def _outcome(
    kind: str,
    scheduled: float,
    done: float,
    *,
    step: int = 1,
    invoices: int = 1,
    error: str | None = None,
) -> Outcome:
    return Outcome(kind, step, scheduled, scheduled + 0.001, done, invoices, error)


PLAN = StepPlan(rate=10, seconds=10, real_time=10, batch_sizes=(90,), lookups=0, checks=0)


def _result(
    latency_s: float = 0.05, errors: float = 0, age: float = 1.0, batch_late_s: float = 0.0
) -> StepResult:
    outcomes = [
        _outcome(SUBMIT, t, t + latency_s, error="503 BACKEND_UNAVAILABLE" if t < errors else None,
                 invoices=0 if t < errors else 1)
        for t in range(10)
    ]  # fmt: skip
    outcomes.append(_outcome(BATCH, 5, 5.2 + batch_late_s, invoices=90))
    outcomes.append(_outcome(SUBMIT, 99, 99.1, step=2))  # another step's: not counted
    return step_result(1, PLAN, 0.0, outcomes, [age, age / 2], {"api": 2.0})


def test_a_step_within_every_threshold_holds() -> None:
    result = _result()

    assert result.acknowledged == 100
    assert result.achieved == pytest.approx(10)
    assert result.submit_p99_ms == pytest.approx(50)
    assert result.requests == Counter({SUBMIT: 10, BATCH: 1})
    assert verdict(result, Thresholds()) == []


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"latency_s": 0.8}, "real-time p99 800 ms > 500 ms"),
        ({"errors": 1}, "errors 9.09% > 1.00%"),
        ({"age": 45}, "oldest batch 45 s > 30 s"),
        # The batch's 202 came 15 s late: 100 invoices over 20.2 s is below 90 % of 10/s.
        ({"batch_late_s": 15}, "achieved 5/s < 90% of 10/s"),
    ],
)
def test_each_threshold_stops_the_run_and_says_why(changed: dict[str, float], reason: str) -> None:
    assert reason in verdict(_result(**changed), Thresholds())


def _step(number: int, rate: float, *, held: bool) -> StepResult:
    plan = Mix().plan(rate, 10)
    outcomes = [
        Outcome(SUBMIT, number, 0, 0, 0.01 if held else 2.0, plan.invoices, None),
    ]
    return step_result(number, plan, 0.0, outcomes, [], {})


def test_the_highest_rate_held_is_the_highest_target_of_a_step_that_held() -> None:
    steps = [
        _step(1, 254, held=True),
        _step(2, 508, held=False),  # a burst of other work: tried again, and held
        _step(3, 508, held=True),
        _step(4, 1016, held=False),
    ]

    summary = summarise(steps, Thresholds())

    assert summary.held is steps[2]
    assert summary.held_rate == pytest.approx(508)
    assert summary.of_average == pytest.approx(508 / NATIONAL_AVERAGE)
    assert summary.of_peak == pytest.approx(508 / NATIONAL_PEAK)
    assert summary.stopped_by == ["real-time p99 2,000 ms > 500 ms"]


def test_a_run_whose_first_step_fails_held_nothing_and_one_that_never_failed_says_so() -> None:
    failed = summarise([_step(1, 25, held=False)], Thresholds())
    all_held = summarise([_step(1, 25, held=True)], Thresholds())

    assert failed.held is None
    assert failed.held_rate == 0
    assert failed.stopped_by
    assert all_held.held is not None
    assert all_held.stopped_by == []


def test_the_timeline_windows_answers_by_when_they_came() -> None:
    outcomes = [
        _outcome(SUBMIT, 0.1, 0.2),
        _outcome(SUBMIT, 0.5, 1.5),  # answered in the second window
        _outcome(LOOKUP, 1.2, 1.3, invoices=0, error="timeout"),
        _outcome(BATCH, 1.6, 1.7, invoices=8),
    ]

    windows = timeline(outcomes, [(0.0, 2.0, 10.0)], [(0.9, 3.0), (1.9, 4.0)], window_s=1.0)

    assert [w.start for w in windows] == [0.0, 1.0]
    assert [w.target for w in windows] == [10.0, 10.0]
    assert [w.achieved for w in windows] == [1.0, 9.0]
    assert windows[0].submit_p99_ms == pytest.approx(100)
    assert windows[1].submit_p99_ms == pytest.approx(1000)
    assert [w.error_rate for w in windows] == [0.0, pytest.approx(1 / 3)]
    assert [w.queue_age_s for w in windows] == [3.0, 4.0]
