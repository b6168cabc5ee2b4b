"""The tables bench_submit.py prints: one row a run (rates, latencies, answers) and the CPU each
process group spent per successful answer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench_lwt import LwtResult


@dataclass(frozen=True)
class Run:
    name: str
    rps: float  # requests answered (closed loop) or sent (open loop) per second
    ok_rps: float  # 2xx answers per second
    p50_ms: float
    p99_ms: float
    codes: dict[str, int]
    ok: int  # successful answers: 2xx, or rows applied
    cpu_ms: dict[str, float]  # by process group, over the run
    wall_s: float


def lwt_run(name: str, lwt: LwtResult, cpu: dict[str, float], wall: float) -> Run:
    ordered = sorted(lwt.latencies_s)

    def percentile(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0

    codes = {"applied": lwt.applied, "not-applied": lwt.not_applied, "error": lwt.errors}
    rate = lwt.rate
    return Run(name, rate, rate, percentile(0.50), percentile(0.99), codes, lwt.applied, cpu, wall)


def print_runs(runs: list[Run]) -> None:
    bare = runs[0].ok_rps
    lwt = next((run.ok_rps for run in runs if run.name.startswith("raw LWT")), 0.0)
    print(
        f"{'run':36} {'req/s':>8} {'2xx/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'/LWT':>6} {'/bare':>6}  answers"
    )
    for run in runs:
        by_lwt = f"{run.ok_rps / lwt:6.2f}" if lwt else f"{'-':>6}"
        codes = " ".join(f"{code}:{count}" for code, count in run.codes.items() if count)
        print(
            f"{run.name:36} {run.rps:8,.0f} {run.ok_rps:8,.0f} {run.p50_ms:8.2f} "
            f"{run.p99_ms:8.2f} {by_lwt} {run.ok_rps / bare:6.2f}  {codes}"
        )
    print(
        "req/s: answered (closed loop), sent (open loop); 2xx/s: successful answers per second "
        "(open loop: until the last answer; LWT loop: rows applied); /LWT, /bare: ratios of 2xx/s"
    )


def print_cpu(runs: list[Run]) -> None:
    names = ["service", "cassandra", "postgres", "redis", "generator"]
    print(
        f"{'CPU-ms per 2xx answer':36} "
        + " ".join(f"{name:>9}" for name in names)
        + f" {'total':>7} {'cores':>6} {'other':>6}"
    )
    for run in runs:
        per = [run.cpu_ms[name] / run.ok if run.ok else math.nan for name in names]
        total = sum(run.cpu_ms[name] for name in names)
        print(
            f"{run.name:36} "
            + " ".join(f"{value:9.2f}" for value in per)
            + f" {total / run.ok if run.ok else math.nan:7.2f} {total / 1000 / run.wall_s:6.2f}"
            + f" {run.cpu_ms['other'] / 1000 / run.wall_s:6.2f}"
        )
    print(
        "cores: CPU-seconds of these processes per second of the run (the LWT loop's generator is "
        "this Python process); other: the rest of the box meanwhile, in cores"
    )
