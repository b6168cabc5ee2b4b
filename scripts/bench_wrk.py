"""Closed-loop load with wrk: --connections each wait for an answer before sending again, so the
rate measured is the most the server sustains at that concurrency (Debian: apt-get install wrk)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

# POST /v1/invoices, one request a line of its thread's own bodies file ("<api key>\t<json>"),
# read as it goes: no two threads send the same invoice, and loading happens in the measured run
# at the rate requests go (formatting 60,000 requests ahead in init() cost wrk more CPU than the
# whole run). At the end of its file a thread starts over (those are retries). Status codes are
# counted a thread, and done() prints them as "status <code> <count>" lines.
SUBMIT_LUA = r"""
local counter, all = 0, {}
codes = {}
function setup(thread)
  thread:set("me", counter)
  counter = counter + 1
  table.insert(all, thread)
end
function init(args)
  bodies = assert(io.open(string.format("%(bodies)s", me), "r"))
end
function request()
  local line = bodies:read("*l")
  if line == nil then
    bodies:seek("set")
    line = bodies:read("*l")
  end
  local key, body = line:match("^([^\t]+)\t(.*)$")
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  return wrk.format("POST", "/v1/invoices", headers, body)
end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(all) do
    for status, count in pairs(thread:get("codes")) do
      io.write(string.format("status %%d %%d\n", status, count))
    end
  end
end
"""


def submit_script(work: Path, threads: int, requests: Iterable[tuple[str, bytes]]) -> Path:
    """Writes the bodies files (request i to thread i mod threads) and the script using them."""
    files = [(work / f"bodies-{thread}.tsv").open("wb") for thread in range(threads)]
    try:
        for index, (api_key, body) in enumerate(requests):
            files[index % threads].write(api_key.encode() + b"\t" + body + b"\n")
    finally:
        for file in files:
            file.close()
    script = work / "submit.lua"
    script.write_text(SUBMIT_LUA % {"bodies": str(work / "bodies-%d.tsv")})
    return script


def run_wrk(url: str, seconds: float, connections: int, threads: int, script: Path | None) -> str:
    argv = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s"]
    if script is not None:
        argv += ["-s", str(script)]
    return subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout


def parse_wrk(output: str) -> dict[str, float]:
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
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    figures["socket_errors"] = float(sum(int(n) for n in errors.groups())) if errors else 0.0
    return figures


def wrk(
    url: str, seconds: float, connections: int, threads: int, script: Path | None
) -> dict[str, float]:
    return parse_wrk(run_wrk(url, seconds, connections, threads, script))


def wrk_codes(output: str) -> dict[str, int]:
    """The status counts the submit script's done() printed, summed over its threads."""
    codes: dict[str, int] = {}
    for code, count in re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE):
        codes[code] = codes.get(code, 0) + int(count)
    return codes
