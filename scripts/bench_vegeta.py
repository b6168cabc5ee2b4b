"""Open-loop load with vegeta: requests leave at a fixed rate whatever the answers, so a server
that falls behind shows as queueing (latency) instead of a lower request rate, as it would under a
closed loop such as wrk.

vegeta is built once per machine from the Go module proxy (`go install`, needs Go) into the
project's cache (~/.cache/einvoice/bin/vegeta-<version>); run this file to build it ahead:

    .venv/bin/python scripts/bench_vegeta.py
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

# devstack/ (the local stack) is not installed: it is read from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devstack.settings import get_stack_settings

# Pinned: the newest v12 tag on the module proxy (2026-12), built with the installed Go 1.26.
VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"


def vegeta_binary() -> Path:
    """The cached vegeta of the pinned version, built first if missing."""
    cached = get_stack_settings().cache_dir / "bin" / f"vegeta-{VEGETA_VERSION}"
    if cached.exists():
        return cached
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("building vegeta needs Go (https://go.dev/doc/install)")
    print(f"building vegeta {VEGETA_VERSION} into {cached.parent} (once)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vegeta-") as gobin:
        # Outside any module or workspace, with the local toolchain only.
        env = dict(os.environ, GOBIN=gobin, GOTOOLCHAIN="local", GOFLAGS="", GOWORK="off")
        subprocess.run([go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"], env=env, check=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(cached.name + ".partial")
        shutil.copy2(Path(gobin) / "vegeta", partial)
        partial.replace(cached)
    return cached


def write_targets(path: Path, url: str, requests: Iterable[tuple[str, bytes]]) -> int:
    """vegeta's JSON targets: one POST a line with its own bearer key and body (base64)."""
    count = 0
    with path.open("wb") as file:
        for api_key, body in requests:
            target = {
                "method": "POST",
                "url": url,
                "header": {
                    "Content-Type": ["application/json"],
                    "Authorization": [f"Bearer {api_key}"],
                },
                "body": base64.b64encode(body).decode(),
            }
            file.write(orjson.dumps(target) + b"\n")
            count += 1
    return count


@dataclass(frozen=True)
class OpenLoopResult:
    rate: float  # requests sent per second over the attack
    ok_rate: float  # 2xx answers per second, over the attack and its wait for the last answers
    requests: int
    p50_ms: float
    p99_ms: float
    codes: dict[int, int]  # status code -> count; 0 is a request that got no answer
    errors: list[str]

    @property
    def ok(self) -> int:
        return sum(count for code, count in self.codes.items() if 200 <= code < 300)


def attack(
    vegeta: Path,
    targets: Path,
    output: Path,
    *,
    rate: int,
    seconds: float,
    workers: int,
    max_workers: int,
) -> None:
    """Send at `rate`/s for `seconds`, then wait for the answers; results go to `output`."""
    argv = [
        str(vegeta),
        "attack",
        "-format=json",
        f"-targets={targets}",
        f"-rate={rate}/s",
        f"-duration={seconds:g}s",
        f"-workers={workers}",
        f"-max-workers={max_workers}",
        "-timeout=30s",
        "-max-body=0",
        f"-output={output}",
    ]
    subprocess.run(argv, check=True)


def report(vegeta: Path, results: Path) -> OpenLoopResult:
    done = subprocess.run(
        [str(vegeta), "report", "-type=json", str(results)],
        capture_output=True,
        check=True,
    )
    data = orjson.loads(done.stdout)
    latencies = data["latencies"]
    codes = {int(code): int(count) for code, count in (data.get("status_codes") or {}).items()}
    ok = sum(count for code, count in codes.items() if 200 <= code < 300)
    # duration: first to last request sent; wait: last request sent to last answer (ns).
    elapsed_s = (data["duration"] + data["wait"]) / 1e9
    return OpenLoopResult(
        rate=float(data["rate"]),
        ok_rate=ok / elapsed_s if elapsed_s > 0 else 0.0,
        requests=int(data["requests"]),
        p50_ms=latencies["50th"] / 1e6,
        p99_ms=latencies["99th"] / 1e6,
        codes=codes,
        errors=list(data.get("errors") or []),
    )


if __name__ == "__main__":
    print(vegeta_binary())
    sys.exit(0)
