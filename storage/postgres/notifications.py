"""Listening for registry changes (NOTIFY on `einvoice_registry`, see migration 0002).

One dedicated connection per process LISTENs. When it is lost, the process cannot know what it
missed, so `on_reset` is called (the caches drop everything) and the listener reconnects with
back-off until it is back.
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

from einvoice.config import Settings
from storage.postgres.pool import connect
from storage.postgres.registry import CHANNEL

log = logging.getLogger(__name__)


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
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
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
                await lost.wait()
                log.warning("registry listener lost its connection; caches cleared")
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("registry listener failed (%s); reconnecting", error)
            finally:
                self.listening.clear()
                self.on_reset()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)

    def _notified(self, connection: Any, pid: int, channel: str, payload: object) -> None:
        try:
            change = orjson.loads(payload)  # type: ignore[arg-type]  # always text here
            self.on_change(str(change["table"]), str(change["key"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable registry notification %r; clearing caches", payload)
            self.on_reset()


def _set(event: asyncio.Event, _connection: object) -> None:
    event.set()
