"""`einvoice loadtest capacity`: the national mix at an open-loop rate raised step by step until a
step does not hold (steps.py says when one holds), and the highest rate held, as a fraction of the
national average and peak; the report (capacity_report.py) beside.

The order of a step, and why:
1. Its invoices are signed first (openloop.py), outside the step's clock.
2. The CPU used so far by the API and worker processes (processes.py) and by this process is read.
3. The schedule is sent; the step ends when its last answer has come, so a step's figures hold
   every request it sent, and the next step starts from what this one left in the batch queue.
4. The queue is sampled once more, the CPU read again, and the step judged. A step that does not
   hold is tried again at the same rate after `--settle-s` (`--retries` times; steps.Stepper):
   on a machine shared with other work, a burst of someone else's tests can fail a step the
   service would hold. The run stops at the rate that failed every try: a higher one would only
   fail the same way, later.
Meanwhile a monitor samples the batch queue's oldest age from Redis and prints a progress line
on stderr every `--progress-s` (not with `--only-summary`). After the last step the batches sent
are followed until the workers finish them (`--drain-s`), and their lines counted by result.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop

from einvoice.config import PROJECT_ROOT, Settings
from ingest.queue import BatchQueue
from loadtest import processes
from loadtest.capacity_report import RunInfo, figures_of, summary_lines, write_files
from loadtest.demo_data import DemoRegistry
from loadtest.openloop import OpenLoop
from loadtest.steps import (
    SUBMIT,
    Mix,
    Outcome,
    Stepper,
    StepResult,
    Thresholds,
    percentile,
    step_rates,
    step_result,
    summarise,
    timeline,
    verdict,
)
from lookup.redis_client import create_redis

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(actions: Any) -> None:
    run = actions.add_parser(
        "capacity", help="raise an open-loop rate of the national mix until it does not hold"
    )
    run.add_argument("--host", default="http://127.0.0.1:8000")
    run.add_argument("--registry", type=Path, default=PROJECT_ROOT / "demo" / "registry.json")
    run.add_argument("--report", type=Path, default=PROJECT_ROOT / "loadtest-capacity")
    steps = run.add_argument_group("steps")
    steps.add_argument("--start-rate", type=float, default=25, help="invoices/s of step 1")
    steps.add_argument("--step-factor", type=float, default=1.5, help="each step's rate x this")
    steps.add_argument("--step-seconds", type=float, default=30)
    steps.add_argument("--max-rate", type=float, default=5000, help="invoices/s, last step at most")
    steps.add_argument("--max-steps", type=int, default=12, help="rates, retries not counted")
    steps.add_argument("--retries", type=int, default=1, help="a failed step's rate again")
    steps.add_argument("--settle-s", type=float, default=10, help="pause before a retry")
    held = run.add_argument_group("a step holds when")
    held.add_argument("--max-p99-ms", type=float, default=500, help="real-time submissions' p99")
    held.add_argument("--max-error-rate", type=float, default=0.01, help="of all requests")
    held.add_argument("--min-achieved", type=float, default=0.9, help="of the planned rate")
    held.add_argument("--max-queue-age-s", type=float, default=30, help="the oldest batch")
    mix = run.add_argument_group("the mix")
    mix.add_argument("--real-time-share", type=float, default=0.10)
    mix.add_argument("--lookups-per-invoice", type=float, default=0.4)
    mix.add_argument("--checks-per-invoice", type=float, default=0.1, help="public checks")
    mix.add_argument("--batch-lines", type=int, default=500, help="at most, a batch")
    mix.add_argument("--batch-every-s", type=float, default=1, help="at least a batch this often")
    run.add_argument("--timeout-s", type=float, default=30, help="a request's, then an error")
    run.add_argument("--max-connections", type=int, default=512)
    run.add_argument("--warm-up", type=int, default=20, help="real-time invoices before step 1")
    run.add_argument("--drain-s", type=float, default=120, help="wait for the batches after")
    run.add_argument("--progress-s", type=float, default=5, help="progress line and window")
    run.add_argument("--no-queue", action="store_true", help="do not sample Redis")
    # When the processes are not on this machine (no CPU to read): the counts to divide by.
    run.add_argument("--api-processes", type=int, default=1)
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--require-rate", type=float, default=0, help="exit 1 below it (CI)")
    run.add_argument("--only-summary", action="store_true", help="no progress lines")
    run.set_defaults(handler=_command)


def _command(args: argparse.Namespace, settings: Settings) -> int:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_capacity(args, settings))


@dataclass
class _Live:
    """What the monitor reports: the step running, and the queue samples (seconds, age)."""

    step: int = 0
    rate: float = 0.0
    shown: int = 0  # outcomes already counted in a progress line
    queue: list[tuple[float, float]] = field(default_factory=list)
    queue_failures: int = 0


@dataclass(frozen=True)
class _Groups:
    api: set[int]
    workers: set[int]

    def cpu(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "api": processes.cpu_seconds(self.api),
            "workers": processes.cpu_seconds(self.workers),
            "generator": usage.ru_utime + usage.ru_stime,
        }


def _find(url: str, settings: Settings) -> _Groups:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        return _Groups(set(), set())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default = str(Settings.model_fields["cassandra_keyspace"].default)
    return _Groups(
        processes.listening_pids(port), processes.worker_pids(settings.cassandra_keyspace, default)
    )


def progress_line(elapsed: float, live: _Live, answered: list[Outcome], window_s: float) -> str:
    """`elapsed  step N at R/s: achieved A/s, E errors (x %), real-time p99 P ms, oldest batch Q s`
    over the answers of the last window."""
    failed = sum(1 for outcome in answered if outcome.error is not None)
    share = failed / len(answered) if answered else 0.0
    p99 = percentile([o.latency_ms for o in answered if o.kind == SUBMIT and o.error is None], 0.99)
    age = f"{live.queue[-1][1]:,.0f} s" if live.queue else "-"
    target = f"step {live.step} at {live.rate:,.0f}/s" if live.rate else f"step {live.step} ending"
    return (
        f"{elapsed:6.0f} s  {target}: achieved "
        f"{sum(o.invoices for o in answered) / window_s:,.0f}/s, {failed} errors ({share:.1%}), "
        f"real-time p99 {'-' if p99 is None else f'{p99:,.0f} ms'}, oldest batch {age}"
    )


async def _sample(queue: BatchQueue | None, live: _Live, zero: float) -> None:
    if queue is None:
        return
    try:
        _, _, age = await queue.stats()
    except Exception as error:  # a sample missed (Redis restarting); said once, counted
        if not live.queue_failures:
            print(f"batch queue not sampled: {error!r}", file=sys.stderr)
        live.queue_failures += 1
        return
    live.queue.append((time.monotonic() - zero, age))


async def _monitor(
    driver: OpenLoop, queue: BatchQueue | None, live: _Live, args: argparse.Namespace, zero: float
) -> None:
    while True:
        await asyncio.sleep(args.progress_s)
        await _sample(queue, live, zero)
        answered = driver.outcomes[live.shown :]
        live.shown += len(answered)
        if not args.only_summary and live.step:
            line = progress_line(time.monotonic() - zero, live, answered, args.progress_s)
            print(line, file=sys.stderr, flush=True)


async def run_capacity(args: argparse.Namespace, settings: Settings) -> int:
    mix = Mix(args.real_time_share, args.lookups_per_invoice, args.checks_per_invoice,
              args.batch_lines, args.batch_every_s)  # fmt: skip
    thresholds = Thresholds(
        args.max_p99_ms, args.max_error_rate, args.max_queue_age_s, args.min_achieved
    )
    stepper = Stepper(
        step_rates(args.start_rate, args.step_factor, args.max_rate, args.max_steps), args.retries
    )
    zero = time.monotonic()
    driver = OpenLoop(
        args.host,
        DemoRegistry(args.registry),
        timeout_s=args.timeout_s,
        max_connections=args.max_connections,
        clock_zero=zero,
    )
    groups = _find(args.host, settings)
    redis = None if args.no_queue else create_redis(settings)
    queue = None if redis is None else BatchQueue(redis, settings.cassandra_keyspace)
    live = _Live()
    monitor = asyncio.create_task(_monitor(driver, queue, live, args, zero))
    results: list[StepResult] = []
    bounds: list[tuple[float, float, float]] = []
    try:
        if not await driver.warm_up(args.warm_up) and args.warm_up:
            print(f"the warm-up's submissions to {args.host} all failed", file=sys.stderr)
            return 1
        number = 0
        while (rate := stepper.current()) is not None:
            number += 1
            if stepper.retrying:
                await asyncio.sleep(args.settle_s)
            plan = mix.plan(rate, args.step_seconds)
            prepared = driver.prepare(plan)
            live.step, live.rate = number, rate
            mark, before = len(live.queue), groups.cpu()
            started = time.monotonic() - zero
            bounds.append((started, started + plan.seconds, plan.planned_rate))
            await driver.run_step(number, plan, prepared)
            live.rate = 0.0
            await _sample(queue, live, zero)
            after = groups.cpu()
            cpu = {name: after[name] - before[name] for name in after}
            ages = [age for _, age in live.queue[mark:]]
            result = step_result(number, plan, started, driver.outcomes, ages, cpu)
            results.append(result)
            stepper.record(held=not verdict(result, thresholds))
        lines_by_result, unfinished = await driver.batch_lines(deadline_s=args.drain_s)
    finally:
        monitor.cancel()
        await driver.close()
        if redis is not None:
            await redis.aclose()

    summary = summarise(results, thresholds)
    found = bool(groups.api)
    info = RunInfo(
        date=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        cores=os.cpu_count() or 1,
        url=args.host,
        api_processes=len(processes.serving(groups.api)) if found else args.api_processes,
        workers=len(groups.workers) if found else args.workers,
        processes_found=found,
        batch_lines=lines_by_result,
        unfinished_batches=unfinished,
        skipped=Counter(driver.skipped),
        queue_samples_missed=live.queue_failures,
    )
    figures = figures_of(summary, info, mix.real_time_share, mix.lookups_per_invoice +
                         mix.checks_per_invoice)  # fmt: skip
    lines = summary_lines(summary, thresholds, info, figures)
    windows = timeline(driver.outcomes, bounds, live.queue, args.progress_s)
    write_files(args.report, summary, thresholds, windows, figures, lines)
    print("\n".join(lines))
    print(f"report: {args.report / 'summary.md'}")
    return 0 if summary.held and summary.held_rate >= args.require_rate else 1
