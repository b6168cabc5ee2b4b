"""A short coverage-guided run of every atheris target (scripts/fuzz_atheris.py): CI's version;
the long runs' figures are in docs/security.md. A crash is libFuzzer's non-zero exit, with the
input that caused it in the output."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.settings import CHECKOUT_ROOT

# Runs per target: a few seconds each; one seed, so CI mutates the same way every time.
RUNS = 300_000


@pytest.mark.parametrize("target", ["json", "jws", "batch", "invoice", "xml"])
def test_atheris_target_finds_nothing(target: str) -> None:
    fuzz = subprocess.run(
        [
            sys.executable,
            "scripts/fuzz_atheris.py",
            target,
            f"-runs={RUNS}",
            "-seed=1",
            "-timeout=10",
            "-rss_limit_mb=1024",
        ],
        cwd=CHECKOUT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = fuzz.stdout + fuzz.stderr
    assert fuzz.returncode == 0, output[-4000:]
    assert f"Done {RUNS} runs" in output, output[-4000:]
