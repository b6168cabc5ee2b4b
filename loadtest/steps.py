"""The capacity run's arithmetic, without I/O: what a step sends, whether the step held, the
highest rate held, and the run's time series.

A step offers the national mix at a fixed rate of invoices a second for a fixed time, open loop:
every request has its moment on a schedule made before the step starts, whatever the answers.
Latency is counted from that scheduled moment, not from when the request left, so a service that
falls behind shows it as latency (queueing) instead of as a lower request rate (coordinated
omission). The mix (`Mix`): 10 % of the invoices in real time, one request each; 90 % in batches
of up to `batch_lines` lines, at least one every `batch_every_s` (so that the invoices acknowledged
over a few seconds follow the rate rather than the batches' arrivals), their lines shared evenly;
lookups by code and public checks at fixed ratios to the invoices. Each kind's requests are spread
evenly over the step, at (i + 0.5) / n of it.

A step holds when, over the requests scheduled in it (`verdict`):
- the p99 of real-time submissions, from their scheduled moments, is at most `max_p99_ms`;
- failed requests (anything but the expected status, timeouts, broken connections) are at most
  `max_error_rate` of the requests;
- the invoices acknowledged (real-time 200/201 and the lines of batches answered 202) came at
  least at `min_achieved` of the planned rate, over the step or until its last answer if later;
- the batch queue's oldest batch was never older than `max_queue_age_s` (the workers keep up).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from loadtest.capacity import AVERAGE_RATE

NATIONAL_AVERAGE = AVERAGE_RATE  # 8e9 invoices a year: 253.5 a second
NATIONAL_PEAK = 10 * AVERAGE_RATE  # the peak the capacity estimate sizes for (docs/capacity.md)

SUBMIT, BATCH, LOOKUP, CHECK = "submit", "batch", "lookup", "check"
KINDS = (SUBMIT, BATCH, LOOKUP, CHECK)


@dataclass(frozen=True)
class StepPlan:
    """What one step sends: counts of each kind of request, and each batch's lines."""

    rate: float  # invoices/s asked for
    seconds: float
    real_time: int
    batch_sizes: tuple[int, ...]
    lookups: int
    checks: int

    @property
    def invoices(self) -> int:
        return self.real_time + sum(self.batch_sizes)

    @property
    def planned_rate(self) -> float:
        """Invoices/s the plan sends (the asked rate, rounded to whole invoices)."""
        return self.invoices / self.seconds

    def schedule(self) -> list[tuple[float, str, int]]:
        """(seconds into the step, kind, index within the kind), in time order."""
        events = [
            ((index + 0.5) * self.seconds / count, kind, index)
            for kind, count in (
                (SUBMIT, self.real_time),
                (BATCH, len(self.batch_sizes)),
                (LOOKUP, self.lookups),
                (CHECK, self.checks),
            )
            for index in range(count)
        ]
        events.sort()
        return events


@dataclass(frozen=True)
class Mix:
    real_time_share: float = 0.10
    lookups_per_invoice: float = 0.4  # GET /v1/invoices/{code} by the seller
    checks_per_invoice: float = 0.1  # POST /v1/verify, the public check of a printed invoice
    batch_lines: int = 500  # at most, a batch
    batch_every_s: float = 1.0  # at least a batch this often, while there are lines for them

    def plan(self, rate: float, seconds: float) -> StepPlan:
        invoices = round(rate * seconds)
        real_time = round(invoices * self.real_time_share)
        in_batches = invoices - real_time
        needed = max(
            math.ceil(in_batches / self.batch_lines), math.ceil(seconds / self.batch_every_s)
        )
        count = min(in_batches, needed)
        # Lines shared out evenly: the first `extra` batches get one more.
        base, extra = divmod(in_batches, count) if count else (0, 0)
        sizes = tuple(base + 1 if index < extra else base for index in range(count))
        return StepPlan(
            rate=rate,
            seconds=seconds,
            real_time=real_time,
            batch_sizes=sizes,
            lookups=round(invoices * self.lookups_per_invoice),
            checks=round(invoices * self.checks_per_invoice),
        )


def step_rates(start: float, factor: float, max_rate: float, max_steps: int) -> list[float]:
    """start, start x factor, ... while at most `max_rate`, at most `max_steps` of them."""
    if start <= 0 or factor <= 1:
        raise ValueError("the start rate must be positive and the step factor above 1")
    rates: list[float] = []
    rate = start
    while rate <= max_rate * (1 + 1e-9) and len(rates) < max_steps:
        rates.append(rate)
        rate *= factor
    return rates


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: when it was due, sent and answered (seconds since the run's start)."""

    kind: str
    step: int
    scheduled: float
    sent: float
    done: float
    invoices: int  # acknowledged by this answer: 1, a batch's lines, or 0 (lookups, failures)
    error: str | None  # None: the expected answer; else `<status> <CODE>`, or `timeout`, ...

    @property
    def latency_ms(self) -> float:
        return (self.done - self.scheduled) * 1000

    @property
    def lag_ms(self) -> float:
        """How late the load generator sent it (its own delay, not the service's)."""
        return (self.sent - self.scheduled) * 1000


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class StepResult:
    number: int  # from 1
    plan: StepPlan
    started: float  # seconds since the run's start
    ended: float  # its last answer, or the end of its schedule if later
    requests: Counter[str]  # by kind
    errors: Counter[str]  # by `<kind> <error>`
    acknowledged: int  # invoices
    latency_ms: dict[str, tuple[float, float]]  # kind -> (p50, p99), from the scheduled moment
    lag_p99_ms: float
    queue_age_s: float | None  # the oldest batch's greatest sampled age (None: not sampled)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process group, over the step

    @property
    def duration(self) -> float:
        return max(self.plan.seconds, self.ended - self.started)

    @property
    def achieved(self) -> float:
        """Invoices acknowledged a second, over the step or until its last answer."""
        return self.acknowledged / self.duration

    @property
    def error_rate(self) -> float:
        total = self.requests.total()
        return self.errors.total() / total if total else 0.0

    @property
    def submit_p50_ms(self) -> float | None:
        return self.latency_ms[SUBMIT][0] if SUBMIT in self.latency_ms else None

    @property
    def submit_p99_ms(self) -> float | None:
        return self.latency_ms[SUBMIT][1] if SUBMIT in self.latency_ms else None


def step_result(
    number: int,
    plan: StepPlan,
    started: float,
    outcomes: Iterable[Outcome],
    queue_ages: Iterable[float],
    cpu_s: dict[str, float] | None = None,
) -> StepResult:
    """A step's figures from its requests' outcomes (those scheduled in it) and the queue ages
    sampled while it ran and its answers came."""
    mine = [outcome for outcome in outcomes if outcome.step == number]
    by_kind: dict[str, list[float]] = {}
    requests: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for outcome in mine:
        requests[outcome.kind] += 1
        if outcome.error is None:
            by_kind.setdefault(outcome.kind, []).append(outcome.latency_ms)
        else:
            errors[f"{outcome.kind} {outcome.error}"] += 1
    latency = {
        kind: (percentile(values, 0.50) or 0.0, percentile(values, 0.99) or 0.0)
        for kind, values in by_kind.items()
    }
    ages = list(queue_ages)
    return StepResult(
        number=number,
        plan=plan,
        started=started,
        ended=max([started + plan.seconds, *(outcome.done for outcome in mine)]),
        requests=requests,
        errors=errors,
        acknowledged=sum(outcome.invoices for outcome in mine),
        latency_ms=latency,
        lag_p99_ms=percentile([outcome.lag_ms for outcome in mine], 0.99) or 0.0,
        queue_age_s=max(ages) if ages else None,
        cpu_s=dict(cpu_s or {}),
    )


@dataclass(frozen=True)
class Thresholds:
    max_p99_ms: float = 500.0
    max_error_rate: float = 0.01
    max_queue_age_s: float = 30.0
    min_achieved: float = 0.9


def verdict(result: StepResult, thresholds: Thresholds) -> list[str]:
    """Why the step did not hold; empty when it held."""
    reasons = []
    p99 = result.submit_p99_ms
    if p99 is not None and p99 > thresholds.max_p99_ms:
        reasons.append(f"real-time p99 {p99:,.0f} ms > {thresholds.max_p99_ms:,.0f} ms")
    if result.error_rate > thresholds.max_error_rate:
        reasons.append(f"errors {result.error_rate:.2%} > {thresholds.max_error_rate:.2%}")
    planned = result.plan.planned_rate
    if result.achieved < thresholds.min_achieved * planned:
        reasons.append(
            f"achieved {result.achieved:,.0f}/s < {thresholds.min_achieved:.0%} of {planned:,.0f}/s"
        )
    age = result.queue_age_s
    if age is not None and age > thresholds.max_queue_age_s:
        reasons.append(f"oldest batch {age:,.0f} s > {thresholds.max_queue_age_s:,.0f} s")
    return reasons


@dataclass(frozen=True)
class Summary:
    steps: list[StepResult]
    held: StepResult | None  # the step of the highest target that held (the later of equals)
    stopped_by: list[str]  # the last step's reasons when it did not hold; else empty

    @property
    def held_rate(self) -> float:
        """Invoices/s achieved at the highest step held (0 when none held)."""
        return self.held.achieved if self.held else 0.0

    @property
    def of_average(self) -> float:
        return self.held_rate / NATIONAL_AVERAGE

    @property
    def of_peak(self) -> float:
        return self.held_rate / NATIONAL_PEAK


def summarise(results: Sequence[StepResult], thresholds: Thresholds) -> Summary:
    held = None
    for result in results:
        if not verdict(result, thresholds) and (held is None or result.plan.rate >= held.plan.rate):
            held = result
    last = verdict(results[-1], thresholds) if results else []
    return Summary(list(results), held, last)


@dataclass
class Stepper:
    """Which rate comes next: the next one after a step that held; the same one again after a
    step that did not, up to `retries` times in a row (a machine shared with other work has
    passing bursts that a second try tells from the service's limit); then none."""

    rates: Sequence[float]
    retries: int
    _index: int = 0
    _failures: int = 0

    def current(self) -> float | None:
        return self.rates[self._index] if self._index < len(self.rates) else None

    def record(self, held: bool) -> None:
        if held:
            self._index, self._failures = self._index + 1, 0
        elif self._failures < self.retries:
            self._failures += 1
        else:
            self._index = len(self.rates)

    @property
    def retrying(self) -> bool:
        return self._failures > 0


@dataclass(frozen=True)
class Window:
    """One window of the run's time series, by when answers came."""

    start: float  # seconds since the run's start
    target: float  # invoices/s scheduled (0 between steps)
    achieved: float  # invoices/s acknowledged
    submit_p50_ms: float | None
    submit_p99_ms: float | None
    requests: int
    error_rate: float  # of the requests answered in the window
    queue_age_s: float | None  # the oldest batch's greatest sampled age in the window


def timeline(
    outcomes: Sequence[Outcome],
    steps: Sequence[tuple[float, float, float]],
    queue: Sequence[tuple[float, float]],
    window_s: float,
) -> list[Window]:
    """Windows of `window_s` from 0 to the last answer; `steps` are (start, end, rate) of each
    step's schedule, `queue` (seconds, oldest batch age) samples."""
    end = max([0.0, *(o.done for o in outcomes), *(e for _, e, _ in steps), *(t for t, _ in queue)])
    count = max(1, math.ceil(end / window_s))
    answered: list[list[Outcome]] = [[] for _ in range(count)]
    for outcome in outcomes:
        answered[min(count - 1, int(outcome.done // window_s))].append(outcome)
    ages: list[list[float]] = [[] for _ in range(count)]
    for moment, age in queue:
        ages[min(count - 1, int(moment // window_s))].append(age)
    windows = []
    for index in range(count):
        start = index * window_s
        middle = start + window_s / 2
        target = next((rate for s, e, rate in steps if s <= middle < e), 0.0)
        inside = answered[index]
        submits = [o.latency_ms for o in inside if o.kind == SUBMIT and o.error is None]
        failed = sum(1 for o in inside if o.error is not None)
        windows.append(
            Window(
                start=start,
                target=target,
                achieved=sum(o.invoices for o in inside) / window_s,
                submit_p50_ms=percentile(submits, 0.50),
                submit_p99_ms=percentile(submits, 0.99),
                requests=len(inside),
                error_rate=failed / len(inside) if inside else 0.0,
                queue_age_s=max(ages[index]) if ages[index] else None,
            )
        )
    return windows
