"""Stopping servers by pid: only our own, SIGTERM first, SIGKILL after the grace period."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from devstack.process import ManagedProcess

_IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True);"
    " time.sleep(120)"
)


def _managed(tmp_path: Path) -> ManagedProcess:
    return ManagedProcess("sleeper", tmp_path / "run", tmp_path / "logs")


def test_a_started_process_is_recognised_and_stopped(tmp_path: Path) -> None:
    managed = _managed(tmp_path)
    pid = managed.start([sys.executable, "-c", "import time; time.sleep(120)"])

    assert managed.running_pid() == pid
    assert managed.stop(stop_signal=signal.SIGTERM, grace_s=10)
    assert managed.running_pid() is None
    assert not managed.pid_file.exists()


def test_a_process_that_ignores_the_stop_signal_is_killed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    managed = _managed(tmp_path)
    managed.start([sys.executable, "-c", _IGNORES_SIGTERM])
    # Wait until the handler is installed, so SIGTERM is really ignored.
    for _ in range(100):
        if "up" in managed.log_file.read_text():
            break
        subprocess.run(["sleep", "0.05"], check=True)

    assert managed.stop(stop_signal=signal.SIGTERM, grace_s=0.5)
    assert managed.running_pid() is None


def test_a_recorded_pid_now_used_by_another_program_is_left_alone(tmp_path: Path) -> None:
    # Another program (not started by the stack) that happens to have the recorded pid.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        managed = _managed(tmp_path)
        managed.pid_file.parent.mkdir(parents=True)
        managed.pid_file.write_text(json.dumps({"pid": stranger.pid, "start_ticks": 1}))

        assert managed.running_pid() is None
        assert managed.stop(stop_signal=signal.SIGKILL, grace_s=1) is False
        assert stranger.poll() is None  # still running
    finally:
        stranger.kill()
        stranger.wait()


def test_stopping_when_nothing_runs_is_harmless(tmp_path: Path) -> None:
    assert _managed(tmp_path).stop(stop_signal=signal.SIGTERM, grace_s=1) is False
