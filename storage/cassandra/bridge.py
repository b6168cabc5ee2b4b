"""The one awaitable bridge between the Cassandra driver and asyncio.

The driver has no awaitable API: `session.execute_async` returns a ResponseFuture whose callbacks
run on the driver's own event thread. We hand the outcome to the asyncio loop with
`call_soon_threadsafe`, so the event loop never blocks on Cassandra and the driver's thread never
runs our code. Only the first page arrives this way; callers page explicitly with `paging_state`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cassandra.cluster import ResponseFuture, ResultSet, Session
from cassandra.query import Statement


async def execute(
    session: Session,
    statement: Statement | str,
    parameters: Any = None,
    *,
    execution_profile: object = None,
    paging_state: bytes | None = None,
) -> ResultSet:
    """Run one statement; the ResultSet holds the first page (`current_rows`, `paging_state`)."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[ResultSet] = loop.create_future()
    kwargs: dict[str, Any] = {"paging_state": paging_state}
    if execution_profile is not None:
        kwargs["execution_profile"] = execution_profile
    response: ResponseFuture = session.execute_async(statement, parameters, **kwargs)

    def deliver_rows(rows: Any) -> None:
        loop.call_soon_threadsafe(_resolve, outcome, ResultSet(response, rows))

    def deliver_error(error: BaseException) -> None:
        loop.call_soon_threadsafe(_fail, outcome, error)

    response.add_callbacks(deliver_rows, deliver_error)
    return await outcome


def _resolve(outcome: asyncio.Future[ResultSet], result: ResultSet) -> None:
    if not outcome.done():  # the awaiting task may have been cancelled meanwhile
        outcome.set_result(result)


def _fail(outcome: asyncio.Future[ResultSet], error: BaseException) -> None:
    if not outcome.done():
        outcome.set_exception(error)
