"""Listening for registry changes (NOTIFY on `einvoice_registry`, see migration 0002).

One dedicated connection per process LISTENs and hands each change to `on_change`. Whenever the
process may have missed changes it calls `on_reset`: when the connection is lost (or stops
answering the ping below), and again once it listens anew, after LISTEN has taken effect, so that
anything changed before that moment is re-read and anything changed after it is notified. In
between it reconnects with back-off. The registry cache (einvoice/registry/cache.py) answers a
reset by re-reading its entries on their next use, serving them meanwhile only while PostgreSQL
cannot answer, within a bound (docs/registry.md).

A connection can also die silently (a network path that drops packets, a server that hangs): no
termination event ever comes, and notifications would stop unnoticed. So the listener pings its
connection every `_PING_EVERY_S` and treats a ping unanswered within the query timeout as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import asyncpg
import orjson
from prometheus_client import Gauge

from einvoice.config import Settings
from storage.postgres.pool import UNAVAILABLE, connect
from storage.postgres.registry import CHANNEL

log = logging.getLogger(__name__)

# Often enough that a silently dead connection is noticed within a few seconds (the ping's own
# timeout added), which bounds how late a change can take effect when notifications stop.
_PING_EVERY_S = 1.0

# What connecting, listening or pinging may raise when PostgreSQL is away or refuses us (an
# authentication or configuration error is logged and retried too: it may be fixed meanwhile).
_FAILURES: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.PostgresError)

LISTENING = Gauge(
    "einvoice_registry_listener_up",
    "1 while this process listens for registry changes, 0 while it reconnects",
    multiprocess_mode="livemin",  # the API's processes together: 0 while any one reconnects
)


class RegistryListener:
    def __init__(
        self,
        settings: Settings,
        on_change: Callable[[str, str], None],
        on_reset: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.on_change = on_change
        self.on_reset = on_reset
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="registry-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                connection = await connect(self.settings)
            except _FAILURES as error:
                log.warning("registry listener cannot connect (%s); retrying", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            lost = asyncio.Event()
            try:
                connection.add_termination_listener(partial(_set, lost))
                await connection.add_listener(CHANNEL, self._notified)
                # Anything may have changed while we were not listening.
                self.on_reset()
                self.listening.set()
                LISTENING.set(1)
                await self._watch(connection, lost)
                log.warning("registry listener lost its connection; entries to be re-read")
            except _FAILURES as error:
                log.warning("registry listener failed (%s); reconnecting", error)
            finally:
                self.listening.clear()
                LISTENING.set(0)
                self.on_reset()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)

    async def _watch(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Returns when the connection is lost; raises when it stops answering."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), _PING_EVERY_S)
                return
            await connection.fetchval("SELECT 1", timeout=self.settings.postgres_query_timeout_s)

    def _notified(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        try:
            change = orjson.loads(payload)  # type: ignore[arg-type]  # always text here
            self.on_change(str(change["table"]), str(change["key"]))
        except (ValueError, KeyError, TypeError):  # orjson.JSONDecodeError is a ValueError
            log.warning("unreadable registry notification %r; entries to be re-read", payload)
            self.on_reset()


def _set(event: asyncio.Event, _connection: object) -> None:
    event.set()
