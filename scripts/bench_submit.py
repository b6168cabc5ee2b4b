"""Benchmark: sustained real-time submissions against the whole running stack, beside a bare
endpoint (GET /healthz) of the same server in the same run.

Needs the local stack up and migrated (`scripts/start`, or `einvoice stack up && einvoice
migrate`) and `wrk` (Debian: apt-get install wrk). It registers a fresh seller with a business
client of the `large` rate-limit class, signs --invoices distinct invoices beforehand (ES256, so
that preparing them is quick), starts `einvoice serve` on a free port with --workers processes,
and replays them with wrk. Every request is a new invoice: a 201 each, unless the run outlasts the
prepared invoices (then the rest are retries, answered 200, and the script says so).

    .venv/bin/python scripts/bench_submit.py [--seconds 20] [--connections 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric import ec

from einvoice.authority_keys import generate_key_file
from einvoice.config import get_settings
from einvoice.invoice.samples import sample_invoice
from einvoice.registry import admin
from einvoice.registry.demo import random_tax_code
from signing import jws
from signing.seller import sign_invoice
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

LUA = """
local bodies = {}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
local index, threads, me = 0, %(threads)d, 0
local counter = 0
function setup(thread) thread:set("me", counter); counter = counter + 1 end
function init(args)
  for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
end
function request()
  local i = (index * threads + me) %% #bodies + 1
  index = index + 1
  return wrk.format("POST", "/v1/invoices", headers, bodies[i])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=1)  # noqa: S310 - loopback only
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def register_seller() -> tuple[str, str, ec.EllipticCurvePrivateKey, str]:
    settings = get_settings()
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
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
    finally:
        await pool.close()
    return tax_code, kid, key, issued.api_key


def wrk(
    url: str, seconds: float, connections: int, threads: int, script: Path | None
) -> dict[str, float]:
    argv = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s"]
    if script is not None:
        argv += ["-s", str(script)]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for name in ("50", "99"):
        match = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)", output)
        assert match is not None, output
        value, unit = float(match.group(1)), match.group(2)
        figures[f"p{name}"] = (
            value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
        )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    total = re.search(r"(\d+) requests in", output)
    figures["requests"] = float(total.group(1)) if total else 0.0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--invoices", type=int, default=60_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_submit: needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    tax_code, kid, key, api_key = asyncio.run(register_seller())
    work = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    bodies = work / "bodies.ndjson"
    started = time.perf_counter()
    today = dt.datetime.now(dt.UTC).date()
    with bodies.open("wb") as file:
        for number in range(1, args.invoices + 1):
            invoice = sample_invoice(seller_tax_code=tax_code, number=number, issued=today)
            signature = sign_invoice(invoice, key, kid=kid, alg="ES256")
            file.write(orjson.dumps({"invoice": invoice, "signature": signature}) + b"\n")
    print(f"signed {args.invoices} invoices in {time.perf_counter() - started:.1f} s", flush=True)
    script = work / "submit.lua"
    script.write_text(LUA % {"key": api_key, "threads": args.threads, "bodies": str(bodies)})
    generate_key_file(work / "authority", "bench-1")
    port = free_port()
    env = dict(
        os.environ,
        EINVOICE_HTTP_PORT=str(port),
        EINVOICE_HTTP_WORKERS=str(args.workers),
        EINVOICE_AUTHORITY_KEYS_DIR=str(work / "authority"),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "einvoice.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        bare = wrk(f"{url}/healthz", args.seconds / 2, args.connections, args.threads, None)
        submit = wrk(url, args.seconds, args.connections, args.threads, script)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    cores = os.cpu_count()
    print(
        f"date {dt.date.today()}, cores {cores}, {args.workers} service processes, "
        f"{args.connections} connections, Cassandra/PostgreSQL/Redis on the same box"
    )
    print(f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'ratio':>6}")
    for name, figures in (("GET /healthz (bare)", bare), ("POST /v1/invoices", submit)):
        print(
            f"{name:28} {figures['rps']:9,.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
            f"{figures['non_2xx']:8.0f} {figures['rps'] / bare['rps']:6.2f}"
        )
    if submit["requests"] > args.invoices:
        print(f"note: {submit['requests'] - args.invoices:.0f} requests were retries (200)")
    print("target: >= 1,500 submissions/s at p99 <= 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
