"""Benchmark ASGI servers for the service: uvicorn vs granian, measured with wrk.

Three targets, all answering ``GET /ping`` with the same small JSON body:

* ``uvicorn+fastapi``  -- bare FastAPI app under uvicorn (1 worker, uvloop + httptools)
* ``granian+fastapi``  -- the same app under granian (1 worker, ``--interface asgi``, uvloop)
* ``uvicorn+raw-asgi`` -- baseline: a bare ASGI callable (no FastAPI) under uvicorn,
  so the FastAPI overhead shows as a ratio

The apps are written to a temporary directory and served from there; nothing in the repository
is imported. Each target runs ``--rounds`` times, interleaved (A, B, C, A, B, C, ...), and the
median per target is reported, to damp the noise of a shared machine. Only 127.0.0.1 is used.

Run with the project's virtualenv (it must have fastapi, orjson, uvicorn, uvloop, httptools and
granian installed) and the ``wrk`` binary (Debian: ``apt-get install wrk``)::

    .venv/bin/python scripts/bench_asgi.py              # defaults: 10 s, 64 connections, 3 rounds
    .venv/bin/python scripts/bench_asgi.py --markdown   # also print a markdown table
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
PATH = "/ping"

FASTAPI_MODULE = "bench_fastapi_app"
RAW_MODULE = "bench_raw_app"

# Same bytes from both apps: orjson.dumps({"status": "ok"}).
FASTAPI_APP_SOURCE = """\
import orjson
from fastapi import FastAPI
from fastapi.responses import Response

_BODY = orjson.dumps({"status": "ok"})

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/ping")
async def ping() -> Response:
    # Plain Response with pre-serialised orjson bytes (ORJSONResponse is deprecated in FastAPI).
    return Response(content=_BODY, media_type="application/json")
"""

RAW_APP_SOURCE = """\
import orjson

_BODY = orjson.dumps({"status": "ok"})
_OK = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_BODY)).encode()),
    ],
}
_NOT_FOUND = {
    "type": "http.response.start",
    "status": 404,
    "headers": [(b"content-length", b"0")],
}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/ping":
        await send(_OK)
        await send({"type": "http.response.body", "body": _BODY})
    else:
        await send(_NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})
"""


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    server: str  # "uvicorn" or "granian"
    baseline: bool = False

    def command(self, port: int) -> list[str]:
        app = f"{self.module}:app"
        if self.server == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", app,
                "--host", HOST, "--port", str(port),
                "--workers", "1", "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
        if self.server == "granian":
            return [
                sys.executable, "-m", "granian", app,
                "--interface", "asgi",
                "--host", HOST, "--port", str(port),
                "--workers", "1", "--loop", "uvloop",
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
        raise ValueError(f"unknown server {self.server!r}")


TARGETS: tuple[Target, ...] = (
    Target("uvicorn+fastapi", FASTAPI_MODULE, "uvicorn"),
    Target("granian+fastapi", FASTAPI_MODULE, "granian"),
    Target("uvicorn+raw-asgi", RAW_MODULE, "uvicorn", baseline=True),
)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors + non-2xx/3xx responses


@dataclass(frozen=True)
class Measurement:
    wrk: WrkResult
    wall_s: float  # wall-clock time of the measured wrk run
    cpu_s: float | None  # CPU time (user + system) of all server processes during it

    @property
    def cores(self) -> float | None:
        return None if self.cpu_s is None else self.cpu_s / self.wall_s

    @property
    def req_per_cpu_s(self) -> float | None:
        return None if not self.cpu_s else self.wrk.requests / self.cpu_s


def _median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass(frozen=True)
class Summary:
    target: Target
    rounds: list[Measurement]

    @property
    def rps(self) -> float:
        return statistics.median(r.wrk.rps for r in self.rounds)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.wrk.p50_ms for r in self.rounds)

    @property
    def p90_ms(self) -> float:
        return statistics.median(r.wrk.p90_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.wrk.p99_ms for r in self.rounds)

    @property
    def cores(self) -> float | None:
        return _median_or_none([r.cores for r in self.rounds])

    @property
    def req_per_cpu_s(self) -> float | None:
        return _median_or_none([r.req_per_cpu_s for r in self.rounds])

    @property
    def errors(self) -> int:
        return sum(r.wrk.errors for r in self.rounds)


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Server lifecycle
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def answers(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", PATH)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


class Server:
    """One server subprocess, in its own process group so that workers are cleaned up too."""

    def __init__(self, target: Target, app_dir: Path, startup_timeout: float) -> None:
        self.target = target
        self.port = free_port()
        self.log_path = app_dir / f"{target.name}.log"
        self._log_file: IO[bytes] = self.log_path.open("wb")
        env = dict(os.environ, PYTHONPATH=str(app_dir), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            target.command(self.port),
            cwd=app_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.target.name} exited with code {self.proc.returncode} at startup:\n"
                    + self.tail_log()
                )
            if answers(self.port):
                return
            time.sleep(0.1)
        raise BenchError(
            f"{self.target.name} did not answer on {HOST}:{self.port} within {timeout:.0f} s:\n"
            + self.tail_log()
        )

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of every live process in the server's session (Linux /proc).

        The server was started with ``start_new_session=True``, so its pid is the session id
        of the server and of all its workers. ``None`` where /proc is unavailable.
        """
        proc_root = Path("/proc")
        if not proc_root.is_dir():
            return None
        ticks = 0
        for entry in proc_root.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process went away meanwhile
                continue
            # Fields after "(comm)": state ppid pgrp session ... utime(11) stime(12).
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[3]) == self.proc.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def tail_log(self, lines: int = 20) -> str:
        self._log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL the whole process group."""
        pgid = self.proc.pid  # start_new_session=True: the server leads its own group
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"  {self.target.name}: no exit {grace:.0f} s after SIGTERM, killing")
        # Kill anything left in the group (the server itself, or orphaned workers).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self._log_file.close()


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------

_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE_RE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_REQUESTS_RE = re.compile(r"^\s*(\d+) requests in ", re.M)
_SOCKET_ERRORS_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(output: str) -> WrkResult:
    rps_match = _RPS_RE.search(output)
    if rps_match is None:
        raise BenchError(f"could not parse wrk output:\n{output}")
    percentiles = {
        int(m.group(1)): float(m.group(2)) * _UNIT_MS[m.group(3)]
        for m in _PERCENTILE_RE.finditer(output)
    }
    missing = {50, 90, 99} - percentiles.keys()
    if missing:
        raise BenchError(f"wrk output lacks percentiles {sorted(missing)}:\n{output}")
    requests_match = _REQUESTS_RE.search(output)
    errors = 0
    socket_errors = _SOCKET_ERRORS_RE.search(output)
    if socket_errors is not None:
        errors += sum(int(g) for g in socket_errors.groups())
    non_2xx = _NON_2XX_RE.search(output)
    if non_2xx is not None:
        errors += int(non_2xx.group(1))
    return WrkResult(
        rps=float(rps_match.group(1)),
        p50_ms=percentiles[50],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        requests=int(requests_match.group(1)) if requests_match else 0,
        errors=errors,
    )


def run_wrk(wrk: str, port: int, duration: int, connections: int, threads: int) -> WrkResult:
    cmd = [
        wrk, "--latency",
        "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
        "--timeout", "2s",
        f"http://{HOST}:{port}{PATH}",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {duration + 30} s") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


def measure(wrk: str, server: Server, duration: int, connections: int, threads: int) -> Measurement:
    cpu_before = server.cpu_seconds()
    start = time.monotonic()
    result = run_wrk(wrk, server.port, duration, connections, threads)
    wall = time.monotonic() - start
    cpu_after = server.cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Measurement(result, wall, cpu)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

HEADERS = (
    "server",
    "req/s (median)",
    "req/s min-max",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "vs best",
    "vs baseline",
    "server CPU cores",
    "req per CPU-s",
    "errors",
)


def table_rows(summaries: list[Summary]) -> list[tuple[str, ...]]:
    best = max(s.rps for s in summaries)
    baseline = next(s.rps for s in summaries if s.target.baseline)
    rows: list[tuple[str, ...]] = []
    for s in sorted(summaries, key=lambda s: s.rps, reverse=True):
        rps_all = [r.wrk.rps for r in s.rounds]
        rows.append(
            (
                s.target.name + (" (baseline)" if s.target.baseline else ""),
                f"{s.rps:,.0f}",
                f"{min(rps_all):,.0f}-{max(rps_all):,.0f}",
                f"{s.p50_ms:.2f}",
                f"{s.p90_ms:.2f}",
                f"{s.p99_ms:.2f}",
                f"{s.rps / best:.2f}",
                f"{s.rps / baseline:.2f}",
                "n/a" if s.cores is None else f"{s.cores:.2f}",
                "n/a" if s.req_per_cpu_s is None else f"{s.req_per_cpu_s:,.0f}",
                str(s.errors),
            )
        )
    return rows


def format_plain(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), sep, *(line(r) for r in rows)])


def format_markdown(rows: list[tuple[str, ...]]) -> str:
    head = "| " + " | ".join(HEADERS) + " |"
    align = "|" + "|".join([":---", *["---:"] * (len(HEADERS) - 1)]) + "|"
    body = ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([head, align, *body])


def versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for dist in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "granian", "orjson"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark uvicorn vs granian (and a raw ASGI baseline) with wrk."
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds per server (default 3)"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=30.0, help="seconds to wait for a server"
    )
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)
    for name in ("duration", "connections", "threads", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.connections < args.threads:
        parser.error("--connections must be >= --threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    wrk = shutil.which("wrk")
    if wrk is None:
        log("error: 'wrk' not found on PATH. Install it: apt-get install wrk")
        return 2
    missing = [
        m
        for m in ("fastapi", "orjson", "uvicorn", "uvloop", "httptools", "granian")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        log(
            f"error: {sys.executable} lacks {', '.join(missing)}; "
            "run this script with the project's virtualenv (.venv/bin/python)"
        )
        return 2

    per_run = args.warmup + args.duration + 3
    log(
        f"{len(TARGETS)} servers x {args.rounds} rounds, {args.duration} s each "
        f"(+{args.warmup} s warm-up), wrk -t{args.threads} -c{args.connections}; "
        f"about {len(TARGETS) * args.rounds * per_run} s"
    )
    results: dict[str, list[Measurement]] = {t.name: [] for t in TARGETS}
    with tempfile.TemporaryDirectory(prefix="bench_asgi_") as tmp:
        app_dir = Path(tmp)
        (app_dir / f"{FASTAPI_MODULE}.py").write_text(FASTAPI_APP_SOURCE)
        (app_dir / f"{RAW_MODULE}.py").write_text(RAW_APP_SOURCE)
        try:
            for round_no in range(1, args.rounds + 1):
                for target in TARGETS:
                    server = Server(target, app_dir, args.startup_timeout)
                    try:
                        if args.warmup:
                            run_wrk(wrk, server.port, args.warmup, args.connections, args.threads)
                        result = measure(wrk, server, args.duration, args.connections, args.threads)
                    finally:
                        server.stop()
                    results[target.name].append(result)
                    log(
                        f"round {round_no}/{args.rounds} {target.name:<18} "
                        f"{result.wrk.rps:>10,.0f} req/s  p50 {result.wrk.p50_ms:.2f} ms  "
                        f"p99 {result.wrk.p99_ms:.2f} ms  cores {result.cores or 0:.2f}  "
                        f"errors {result.wrk.errors}"
                    )
        except BenchError as exc:
            log(f"error: {exc}")
            return 1

    summaries = [Summary(t, results[t.name]) for t in TARGETS]
    rows = table_rows(summaries)
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs, {versions()}\n"
        f"# wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
        f"(+{args.warmup} s warm-up), median of {args.rounds} interleaved rounds\n"
        "# vs best = req/s / best req/s; vs baseline = req/s / uvicorn+raw-asgi req/s;\n"
        "# server CPU cores = server CPU time / wall time during the run (all its processes "
        "and threads);\n# req per CPU-s = requests served per second of server CPU time"
    )
    print(format_plain(rows))
    if args.markdown:
        print()
        print(format_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
