"""Benchmark: cached lookups by code (GET /v1/invoices/{code}) and cache misses, beside a bare
FastAPI endpoint doing one plain Redis GET, served the same way, in the same run.

Needs the local stack up and migrated, and wrk. It registers a seller whose client has the
`internal` rate-limit class (so no 429 muddles the figures), authenticates --invoices invoices
through the API (each then sits in the cache by write-through), and loads with wrk:
  bare    GET /get/{code} of a tiny app: one Redis GET of the same keys, orjson answer
  hits    GET /v1/invoices/{code}: authentication, access check, cache hit
  misses  the same after the cache entries are deleted, for a short run: Cassandra reads
  quiet   the same hits against a second service with its access log off (EINVOICE_ACCESS_LOG=
          false): the access log's cost is 1 - hits / quiet, by round (issue #19: under 5 %)
Both services write their logs to files, as a deployment does, not to /dev/null.

    .venv/bin/python scripts/bench_lookup.py [--seconds 10] [--rounds 5] [--connections 16]
                                             [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_submit import free_port, register_seller, wait_ready, wrk

from einvoice.authority_keys import generate_key_file
from einvoice.config import get_settings
from einvoice.invoice.samples import sample_invoice
from einvoice.registry import admin
from lookup.cache import code_key
from lookup.redis_client import create_redis
from signing.seller import sign_invoice
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

BARE_APP = textwrap.dedent(
    """
    import orjson
    import redis.asyncio as redis
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()
    client = redis.Redis.from_url("{redis_url}")


    @app.get("/get/{{code}}")
    async def get(code: str) -> Response:
        value = await client.get("{key_prefix}" + code)
        return Response(value or orjson.dumps(None), media_type="application/json")
    """
)

ROTATE = """
local codes = {}
local headers = {["Authorization"] = "Bearer %(key)s"}
local i = 0
function init(args) for line in io.lines("%(codes)s") do codes[#codes + 1] = line end end
function request()
  i = i + 1
  return wrk.format("GET", "%(prefix)s" .. codes[i %% #codes + 1], headers)
end
"""


async def internal_key(tax_code: str) -> str:
    pool = await create_pool(get_settings())
    try:
        issued = await admin.add_client(Registry(pool), "business", tax_code, "internal")
    finally:
        await pool.close()
    return issued.api_key


async def drop_cache(codes: list[str]) -> None:
    client = create_redis(get_settings())
    try:
        await client.delete(*(code_key(code) for code in codes))
    finally:
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of one round")
    parser.add_argument("--rounds", type=int, default=5)
    # Enough in flight to keep both servers' processes busy; far more only queues requests and
    # measures the queue (p99 at 64 connections is mostly waiting: docs/lookup.md).
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--invoices", type=int, default=300)
    args = parser.parse_args()
    settings = get_settings()

    tax_code, kid, key, _ = asyncio.run(register_seller())
    api_key = asyncio.run(internal_key(tax_code))
    work = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    generate_key_file(work / "authority", "bench-1")
    (work / "bare_app.py").write_text(
        BARE_APP.format(redis_url=settings.redis_url, key_prefix=code_key(""))
    )
    port, bare_port, quiet_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_HTTP_WORKERS=str(args.workers),
        EINVOICE_AUTHORITY_KEYS_DIR=str(work / "authority"),
        EINVOICE_METRICS_PORT="0",
    )
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    service = _serve(env, work / "service.log")
    quiet_service = _serve(
        dict(env, EINVOICE_HTTP_PORT=str(quiet_port), EINVOICE_ACCESS_LOG="false"),
        work / "quiet-service.log",
    )
    bare = subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop",
         "--workers", str(args.workers), "--port", str(bare_port), "bare_app:app"],
        cwd=work, **quiet,
    )  # fmt: skip
    url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    quiet_url = f"http://127.0.0.1:{quiet_port}"
    try:
        wait_ready(url)
        wait_ready(quiet_url)
        today = dt.datetime.now(dt.UTC).date()
        codes = []
        for number in range(1, args.invoices + 1):
            invoice = sample_invoice(seller_tax_code=tax_code, number=number, issued=today)
            body = {
                "invoice": invoice,
                "signature": sign_invoice(invoice, key, kid=kid, alg="ES256"),
            }
            request = urllib.request.Request(  # noqa: S310 - loopback only
                f"{url}/v1/invoices",
                data=orjson.dumps(body),
                headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                codes.append(orjson.loads(answer.read())["code"])
        (work / "codes.txt").write_text("\n".join(codes) + "\n")
        scripts = {}
        for name, prefix in (("bare", "/get/"), ("api", "/v1/invoices/")):
            scripts[name] = work / f"{name}.lua"
            scripts[name].write_text(
                ROTATE % {"key": api_key, "codes": work / "codes.txt", "prefix": prefix}
            )
        # Rounds alternate the two (in turn first), and each figure is the median over rounds: on
        # a shared machine the load from elsewhere drifts, and a single run of each would charge
        # that drift to whichever ran second.
        bare_runs: list[dict[str, float]] = []
        hit_runs: list[dict[str, float]] = []
        quiet_runs: list[dict[str, float]] = []
        for round_number in range(args.rounds):
            turn = [
                ("bare", bare_url, bare_runs),
                ("api", url, hit_runs),
                ("api", quiet_url, quiet_runs),
            ]
            for name, target, runs in turn if round_number % 2 == 0 else turn[::-1]:
                runs.append(wrk(target, args.seconds, args.connections, 1, scripts[name]))
        baseline, hits, quiet_hits = _median(bare_runs), _median(hit_runs), _median(quiet_runs)
        ratios = sorted(
            hit["rps"] / bare["rps"] for hit, bare in zip(hit_runs, bare_runs, strict=True)
        )
        log_costs = sorted(
            1 - hit["rps"] / off["rps"] for hit, off in zip(hit_runs, quiet_runs, strict=True)
        )
        access_lines = sum(1 for _ in (work / "service.log").open("rb"))
        asyncio.run(drop_cache(codes))
        # Misses fill the cache as they go: a short run over fresh keys measures mostly misses.
        misses = wrk(url, 2, args.connections, 1, scripts["api"])
    finally:
        for process in (service, quiet_service, bare):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    print(
        f"date {dt.date.today()}, cores {os.cpu_count()}, {args.workers} processes each, "
        f"{args.connections} connections, median of {args.rounds} alternating rounds of "
        f"{args.seconds:.0f} s, the whole stack on this box"
    )
    print(f"{'what':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'ratio':>6}")
    rows = (
        ("bare FastAPI + one Redis GET", baseline),
        ("GET /v1/invoices/{code}, cache hits", hits),
        ("the same, access log off", quiet_hits),
        ("GET /v1/invoices/{code}, after a flush", misses),
    )
    for name, figures in rows:
        print(
            f"{name:40} {figures['rps']:9,.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
            f"{figures['non_2xx']:8.0f} {figures['rps'] / baseline['rps']:6.2f}"
        )
    print("cache hits / bare, by round: " + ", ".join(f"{ratio:.2f}" for ratio in ratios))
    print(
        "access log cost (1 - hits / access log off), by round: "
        + ", ".join(f"{cost:+.1%}" for cost in log_costs)
        + f"; median {statistics.median(log_costs):+.1%} (target < 5 %); "
        + f"{access_lines:,} log lines written"
    )
    print("target: >= 3,000 cached lookups/s at p99 <= 20 ms, and >= 80 % of the bare endpoint")
    return 0


def _serve(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "einvoice.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


if __name__ == "__main__":
    sys.exit(main())
