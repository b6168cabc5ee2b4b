"""Benchmark: sustained real-time submissions against the whole running stack, beside a bare
endpoint (GET /healthz) of the same server and a raw single-row LWT loop, in the same run.

Needs the local stack up and migrated (`scripts/start`, or `scripts/stack up && einvoice
migrate`), `wrk` (Debian: apt-get install wrk) and Go (vegeta is built once per machine, see
scripts/bench_vegeta.py). It registers a fresh seller (or --sellers K, each the same way) with a
business client of the `large` rate-limit class, signs distinct invoices beforehand (ES256, so that
preparing them is quick; each seller's numbers consecutive), starts `einvoice serve` on a free port
with --workers processes, and measures, each run on its own:
  bare    GET /healthz, closed loop (wrk, --connections), for --seconds / 2
  closed  POST /v1/invoices, closed loop (wrk): the maximum the service sustains
  open    POST /v1/invoices at a fixed --rate (vegeta), whatever the answers: queueing shows as
          latency instead of hiding in a lower request rate
  lwt     a raw loop of single-row LWT inserts (cassandra-driver, --lwt-in-flight in flight) into
          a scratch table: what one claim costs Cassandra here, the ratio's baseline
  raw open  the same claims at --rate (open loop), each then followed by a ~700-byte row: the
          latency of the cheapest shape of a submission, without HTTP or grouping
Every request is a new invoice: a 201 each, unless a run outlasts its prepared invoices (then the
rest are retries, answered 200, and the script says so). Beyond the `large` class's limit (500
submissions/s a service process and client) the answers are 429s: spread them with --sellers.
CPU per successful request comes from /proc (utime + stime) for the service processes, Cassandra,
PostgreSQL, Redis, and the load generator (scripts/bench_cpu.py).

    .venv/bin/python scripts/bench_submit.py [--seconds 20] [--connections 32] [--workers 2]
        [--rate 400] [--open-seconds 20] [--lwt-seconds 10] [--sellers 1]
        [--skip-closed] [--skip-open] [--skip-lwt]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent))
# devstack/ (the local stack) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_cpu import Finder, children_cpu_s, measured, self_cpu_s, snapshot, stack_groups, tree_of
from bench_lwt import ScratchLwt
from bench_report import Run, lwt_run, print_cpu, print_runs
from bench_vegeta import attack, report, vegeta_binary, write_targets
from bench_wrk import parse_wrk, run_wrk, submit_script, wrk_codes
from bench_wrk import wrk as wrk  # re-exported: bench_lookup.py imports it from here

from devstack.demo import random_tax_code
from devstack.settings import get_stack_settings
from einvoice.authority_keys import generate_key_file
from einvoice.config import Settings, get_settings
from einvoice.invoice.samples import sample_invoice
from einvoice.registry import admin
from signing import jws
from signing.seller import sign_invoice
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry


@dataclass(frozen=True)
class Seller:
    tax_code: str
    kid: str
    key: ec.EllipticCurvePrivateKey
    api_key: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str, timeout_s: float = 40, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before it was ready")
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=1)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def _register(registry: Registry) -> Seller:
    tax_code = random_tax_code()
    key = ec.generate_private_key(ec.SECP256R1())
    kid = f"{tax_code}-bench"
    await admin.add_taxpayer(registry, tax_code, "Công ty Đo Tải")
    await admin.add_key(
        registry,
        tax_code,
        kid,
        jws.public_jwk(key.public_key()),
        algorithm="ES256",
        valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    issued = await admin.add_client(registry, "business", tax_code, "large")
    return Seller(tax_code, kid, key, issued.api_key)


async def register_sellers(count: int) -> list[Seller]:
    pool = await create_pool(get_settings())
    try:
        registry = Registry(pool)
        return [await _register(registry) for _ in range(count)]
    finally:
        await pool.close()


async def register_seller() -> tuple[str, str, ec.EllipticCurvePrivateKey, str]:
    (seller,) = await register_sellers(1)
    return seller.tax_code, seller.kid, seller.key, seller.api_key


def signed_bodies(sellers: list[Seller], start: int, stop: int) -> Iterator[tuple[str, bytes]]:
    """Invoices start..stop-1 of the run: invoice i is seller i mod K's number i div K + 1, so
    each seller's numbers are consecutive across the closed and open runs."""
    today = dt.datetime.now(dt.UTC).date()
    for index in range(start, stop):
        seller = sellers[index % len(sellers)]
        number = index // len(sellers) + 1
        invoice = sample_invoice(seller_tax_code=seller.tax_code, number=number, issued=today)
        signature = sign_invoice(invoice, seller.key, kid=seller.kid, alg="ES256")
        yield seller.api_key, orjson.dumps({"invoice": invoice, "signature": signature})


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="closed-loop run (bare: half)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's, closed loop")
    parser.add_argument("--threads", type=int, default=1, help="wrk's")
    parser.add_argument("--workers", type=int, default=2, help="service processes")
    parser.add_argument("--invoices", type=int, default=60_000, help="prepared for the closed run")
    parser.add_argument("--sellers", type=int, default=1, help="spread the invoices over K")
    parser.add_argument("--rate", type=int, default=400, help="open loop, requests/s")
    parser.add_argument("--open-seconds", type=float, default=20)
    # vegeta adds workers (each one request in flight) up to the maximum when the server falls
    # behind; the maximum only bounds the run, the rate shortfall is reported.
    parser.add_argument("--open-workers", type=int, default=64)
    parser.add_argument("--open-max-workers", type=int, default=4096)
    parser.add_argument("--lwt-seconds", type=float, default=10)
    parser.add_argument("--lwt-in-flight", type=int, default=128)
    parser.add_argument("--idle-seconds", type=float, default=2, help="background measure")
    parser.add_argument("--skip-closed", action="store_true")
    parser.add_argument("--skip-open", action="store_true")
    parser.add_argument("--skip-lwt", action="store_true")
    args = parser.parse_args()
    if args.sellers < 1 or args.rate < 1 or args.invoices < args.threads:
        parser.error("--sellers and --rate are at least 1, --invoices at least --threads")
    return args


@dataclass
class Runner:
    """Runs one at a time against the started service, each measured for CPU on its own."""

    args: argparse.Namespace
    groups: dict[str, Finder]
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def closed(self, name: str, target: str, seconds: float, lua: Path | None) -> Run:
        args = self.args
        output, cpu, wall = measured(
            self.groups,
            children_cpu_s,
            lambda: run_wrk(target, seconds, args.connections, args.threads, lua),
        )
        figures = parse_wrk(output)
        codes = wrk_codes(output) or {
            "2xx": int(figures["requests"] - figures["non_2xx"]),
            "other": int(figures["non_2xx"]),
        }
        ok = sum(count for code, count in codes.items() if code.startswith("2"))
        share = ok / figures["requests"] if figures["requests"] else 0.0
        if figures["socket_errors"]:
            self.notes.append(f"{name}: {figures['socket_errors']:.0f} socket errors (wrk)")
        return self._add(
            Run(name, figures["rps"], figures["rps"] * share, figures["p50"], figures["p99"],
                codes, ok, cpu, wall)
        )  # fmt: skip

    def open(self, vegeta: Path, targets: Path, prepared: int) -> Run:
        args = self.args
        results = targets.with_name("results.bin")
        _, cpu, wall = measured(
            self.groups,
            children_cpu_s,
            lambda: attack(
                vegeta,
                targets,
                results,
                rate=args.rate,
                seconds=args.open_seconds,
                workers=args.open_workers,
                max_workers=args.open_max_workers,
            ),
        )
        answers = report(vegeta, results)
        if answers.rate < 0.97 * args.rate:
            self.notes.append(
                f"open loop: vegeta sent {answers.rate:,.0f}/s, short of {args.rate}/s "
                f"(--open-max-workers {args.open_max_workers} in flight, or its own CPU)"
            )
        if answers.requests > prepared:
            self.notes.append(f"open loop: {answers.requests - prepared} requests were retries")
        self.notes += [f"open loop error: {error}" for error in answers.errors[:3]]
        codes = {str(code): count for code, count in sorted(answers.codes.items())}
        return self._add(
            Run(f"POST submit, open {args.rate}/s", answers.rate, answers.ok_rate, answers.p50_ms,
                answers.p99_ms, codes, answers.ok, cpu, wall)
        )  # fmt: skip

    def lwt(self, settings: Settings) -> Run:
        in_flight = self.args.lwt_in_flight
        with ScratchLwt(settings) as scratch:
            lwt, cpu, wall = measured(
                self.groups, self_cpu_s, lambda: scratch.run(self.args.lwt_seconds, in_flight)
            )
        if lwt.errors:
            self.notes.append(f"LWT loop: {lwt.errors} errors, first {lwt.first_error}")
        return self._add(lwt_run(f"raw LWT loop, {in_flight} in flight", lwt, cpu, wall))

    def lwt_open(self, settings: Settings) -> Run:
        rate = self.args.rate
        with ScratchLwt(settings) as scratch:
            lwt, cpu, wall = measured(
                self.groups, self_cpu_s, lambda: scratch.run_open(self.args.open_seconds, rate)
            )
        if lwt.errors:
            self.notes.append(f"raw open loop: {lwt.errors} errors, first {lwt.first_error}")
        return self._add(lwt_run(f"raw LWT + row, open {rate:g}/s", lwt, cpu, wall))

    def _add(self, run: Run) -> Run:
        self.runs.append(run)
        return run


def prepare(args: argparse.Namespace, sellers: list[Seller], work: Path, url: str) -> int:
    """Signs the closed run's invoices into work/bodies-*.tsv (wrk) and the open run's into
    work/targets.json (vegeta); returns how many the open run has."""
    closed_count = 0 if args.skip_closed else args.invoices
    # Enough for the rate over the run, and a margin: a retry would be a cheaper request.
    open_count = 0 if args.skip_open else math.ceil(args.rate * args.open_seconds * 1.05) + 200
    started = time.perf_counter()
    submit_script(work, args.threads, signed_bodies(sellers, 0, closed_count))
    write_targets(
        work / "targets.json",
        f"{url}/v1/invoices",
        signed_bodies(sellers, closed_count, closed_count + open_count),
    )
    print(
        f"signed {closed_count + open_count} invoices of {len(sellers)} seller(s) "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return open_count


def start_service(args: argparse.Namespace, work: Path, port: int) -> subprocess.Popen[bytes]:
    generate_key_file(work / "authority", "bench-1")
    env = dict(
        os.environ,
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_HTTP_WORKERS=str(args.workers),
        EINVOICE_AUTHORITY_KEYS_DIR=str(work / "authority"),
        EINVOICE_METRICS_PORT="0",  # not the port a running `scripts/start` holds
    )
    with (work / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "einvoice.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("bench_submit: needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    settings = get_settings()
    vegeta = None if args.skip_open else vegeta_binary()
    sellers = asyncio.run(register_sellers(args.sellers))
    work = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    # vegeta's targets carry the URL: the port is chosen before the server starts.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    open_count = prepare(args, sellers, work, url)
    server = start_service(args, work, port)
    runner = Runner(args, {"service": tree_of(server.pid), **stack_groups(get_stack_settings())})
    try:
        try:
            wait_ready(url, process=server)
        except RuntimeError as not_ready:
            log = log_tail(work / "serve.log")
            print(f"bench_submit: {not_ready}; its log ends:\n{log}", file=sys.stderr)
            return 1
        members = snapshot(runner.groups, children_cpu_s).members
        # What the box does without us (another engineer's tests on the same Cassandra, say):
        # it is in every run's figures too.
        sleep = args.idle_seconds
        _, idle, idle_s = measured(runner.groups, children_cpu_s, lambda: time.sleep(sleep))
        runner.closed(f"GET /healthz bare, closed {args.connections}", f"{url}/healthz",
                      args.seconds / 2, None)  # fmt: skip
        # A pause before each run: the last one's requests finish outside the next window.
        if not args.skip_closed:
            time.sleep(1)
            closed = runner.closed(
                f"POST submit, closed {args.connections}", url, args.seconds, work / "submit.lua"
            )
            if closed.codes.get("200"):
                runner.notes.append(
                    f"closed loop: {closed.codes['200']} requests were retries (200): it "
                    f"outlasted the {args.invoices} prepared invoices (--invoices)"
                )
        if vegeta is not None:
            time.sleep(1)
            runner.open(vegeta, work / "targets.json", open_count)
        if not args.skip_lwt:
            time.sleep(1)
            runner.lwt(settings)
            if vegeta is not None:
                time.sleep(1)
                runner.lwt_open(settings)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"date {dt.datetime.now():%Y-%m-%d %H:%M}, cores {os.cpu_count()}, service: "
        f"{members['service']} processes (--workers {args.workers}), {args.sellers} seller(s), "
        f"Cassandra/PostgreSQL/Redis and the load generators on the same box"
    )
    print(
        f"background, {args.idle_seconds:g} s idle before the runs, in cores: "
        + ", ".join(f"{name} {used / 1000 / idle_s:.2f}" for name, used in idle.items())
    )
    print_runs(runner.runs)
    print()
    print_cpu(runner.runs)
    for note in runner.notes:
        print(f"note: {note}")
    print(
        "targets: >= 700 submissions/s closed loop; p99 <= 50 ms at an open-loop 400/s; "
        "service CPU <= 1.5 ms a submission"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
