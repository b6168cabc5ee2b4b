"""Settings of the local development stack only, from the same `EINVOICE_*` environment.

The product's `einvoice.config.Settings` says where the servers are (hosts, ports, the role and
database, the Redis URL); the stack reads those from it and starts its own servers there. What is
here only concerns running those servers on a development machine, so it stays out of the product
(and out of its wheel and image). The variable names are the ones documented before the stack
left the product: docs/configuration.md, "Local stack (devstack)".
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# devstack is never installed: it runs from the checkout, whose root holds it.
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    """The local stack's own settings; docs/configuration.md lists them."""

    model_config = SettingsConfigDict(env_prefix="EINVOICE_", extra="ignore", frozen=True)

    # Where the stack's servers keep their data, logs and pid files, and where downloads are
    # cached between runs and clones.
    stack_dir: Path = CHECKOUT_ROOT / ".stack"
    cache_dir: Path = Path.home() / ".cache" / "einvoice"
    cassandra_version: str = "5.0.8"
    cassandra_heap: str = "1G"
    # 1: one node at the product's first contact point (EINVOICE_CASSANDRA_HOSTS, 127.0.0.1). More:
    # a local cluster of that many nodes at 127.0.0.2 onwards, which the product reaches with
    # EINVOICE_CASSANDRA_HOSTS=127.0.0.2,... (`scripts/stack up --cassandra-nodes 3` prints it).
    cassandra_nodes: int = Field(default=1, ge=1, le=5)
    # 2: the cluster's nodes alternate between datacentres `datacenter1` and `datacenter2` (nodes
    # 21 onwards at 127.0.0.22 onwards; docs/datacentres.md).
    cassandra_datacentres: int = Field(default=1, ge=1, le=2)
    # `group`: acknowledge after fsync (no acknowledged write lost on power loss); `periodic`:
    # fsync every 10 s, faster. See devstack/templates/cassandra.yaml.
    cassandra_commitlog_sync: Literal["group", "periodic"] = "group"
    # The optional local Prometheus (`scripts/stack up prometheus`; devstack/prometheus.py), always
    # on 127.0.0.1.
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    # How many batch workers `scripts/start` runs (worker n serves its metrics on
    # EINVOICE_METRICS_PORT + n); the local Prometheus scrapes that many. scripts/start reads the
    # variable itself, with the same default: one per core (`nproc`: the cores this process may
    # use).
    start_workers: int = Field(default_factory=lambda: len(os.sched_getaffinity(0)), ge=1)
    stack_start_timeout_s: float = Field(default=180.0, gt=0)
    stack_stop_grace_s: float = Field(default=60.0, gt=0)


@lru_cache(maxsize=1)
def get_stack_settings() -> StackSettings:
    return StackSettings()
