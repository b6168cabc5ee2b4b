"""Prometheus metrics on their own port (EINVOICE_METRICS_PORT on EINVOICE_METRICS_HOST), never on
the service's public port: the public internet has no business reading a national service's
internals, and a scrape must not queue behind invoices.

A batch worker is one process and serves its own registry. The API is several processes
(granian's workers), and a scrape must see them all, not whichever one the kernel hands the
connection to: `einvoice serve` turns on prometheus_client's multiprocess mode before granian
starts its workers (`use_multiprocess_dir`), each worker writes its samples to memory-mapped files
in that folder, and the server in granian's main process adds them up on every scrape. Gauges say
how processes combine (`multiprocess_mode`, where each gauge is declared).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from einvoice.config import Settings

if TYPE_CHECKING:  # imported where used: prometheus_client must not load before the env is set
    from prometheus_client import Metric

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def use_multiprocess_dir() -> Path:
    """A fresh, empty folder for this server's processes' samples, removed at exit. Must run before
    prometheus_client is imported here or in a worker (it picks its value store at import)."""
    folder = Path(tempfile.mkdtemp(prefix="einvoice-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    owner = os.getpid()

    def remove() -> None:
        # Only by this process: a worker forked from it inherits the exit handler, and one that
        # exits before the others must not take their samples with it.
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder


def serve(settings: Settings) -> bool:
    """Serve /metrics on the metrics port in a background thread of this process; False when the
    port is 0 (metrics off). Raises OSError when the port is taken: two processes on one port would
    answer for each other. In multiprocess mode, it serves the sum of every process's samples."""
    if settings.metrics_port == 0:
        return False
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    folder = os.environ.get(MULTIPROC_ENV)
    registry = REGISTRY
    if folder:
        registry = CollectorRegistry()
        registry.register(_LiveProcesses(Path(folder)))
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    return True


class _LiveProcesses:
    """prometheus_client's multiprocess collector, after forgetting the "live" gauges of processes
    that have exited (granian restarts a worker that dies; its last `einvoice_cache_available`
    must not stand for ever)."""

    def __init__(self, folder: Path) -> None:
        from prometheus_client.multiprocess import MultiProcessCollector

        self.folder = folder
        self.collector = MultiProcessCollector(None, path=str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.multiprocess import mark_process_dead

        files = (_PID_FILE.match(path.name) for path in self.folder.iterdir())
        for pid in {int(match.group(1)) for match in files if match}:
            if not _alive(pid):
                mark_process_dead(pid, str(self.folder))  # type: ignore[no-untyped-call]
        metrics: Iterable[Metric] = self.collector.collect()  # type: ignore[no-untyped-call]
        return metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process reuses the pid: ours is gone all the same
        return False
    return True
