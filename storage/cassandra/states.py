"""Invoices' states after authentication (einvoice/lifecycle.py): `invoice_states`, one row per
invoice that ever changed, written only with lightweight transactions.

A change is a compare-and-set on the row's `version`: read the state, compute the next one
(`lifecycle.apply`), write it `IF version = <the version read>` (`IF version = null` for an
invoice never changed). When another change won meanwhile, the round is not applied: read again,
this time with a serial read (which also completes a round left in progress), and decide again.
So two changes racing are ordered, each sees the other's result, and none is lost: two
replacements of one invoice, one wins and the other is refused; an adjustment and a cancel, both
apply in some order or the later is refused.

The round runs where the seller's claims run (storage/cassandra/client.py's ClaimRouting), so
with sellers homed in datacentres it is that datacentre's quorum that decides.

Plain reads (`state_of`) are LOCAL_QUORUM, like every lookup: they see every applied change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.query import PreparedStatement
from prometheus_client import Counter

from einvoice.lifecycle import Change, InvoiceState, Refusal, apply
from storage.cassandra.bridge import execute
from storage.cassandra.client import ClaimRouting
from storage.cassandra.documents import code_bytes

# A change that loses this many rounds in a row is under a storm no seller makes; the caller
# answers 503 and the client retries.
MAX_ROUNDS = 16

STATE_ROUNDS = Counter(
    "einvoice_state_rounds_total",
    "Lightweight-transaction rounds of invoice state changes, by how they ended",
    ["result"],  # applied | contended (another change won; read again and decide again)
)

_COLUMNS = "status, replaced_by, adjusted_by, cancelled_by, explained_by, version, changed_at"
_SELECT = f"SELECT {_COLUMNS} FROM invoice_states WHERE code = ?"
_SET = """
UPDATE invoice_states USING TTL ?
SET status = ?, replaced_by = ?, adjusted_by = ?, cancelled_by = ?, explained_by = ?,
    version = ?, changed_at = ?
WHERE code = ? IF version = ?
"""


class StateContention(Exception):
    """A change lost MAX_ROUNDS rounds in a row."""


class StateStore:
    def __init__(self, session: Session, routing: ClaimRouting | None = None) -> None:
        self.session = session
        self.routing = routing or ClaimRouting()
        self._select: PreparedStatement = session.prepare(_SELECT)
        self._set: PreparedStatement = session.prepare(_SET)

    async def state_of(self, code: str) -> InvoiceState:
        """The invoice's state (the initial one when it never changed)."""
        result = await execute(self.session, self._select, (code_bytes(code),))
        return _state(result.current_rows[0]) if result.current_rows else InvoiceState()

    async def change(
        self,
        code: str,
        change: Change,
        *,
        seller_tax_code: str,
        ttl: int,
        now: dt.datetime,
    ) -> tuple[InvoiceState, bool] | Refusal:
        """Apply `change` to the invoice `code`: (the state after it, whether this call changed
        it: False when it was already applied), or the Refusal of the state that forbids it.
        `ttl`: the invoice's remaining life, which the state row shares."""
        key = code_bytes(code)
        profile = self.routing.profile_for(seller_tax_code)
        serial = False
        for _ in range(MAX_ROUNDS):
            state = await self._read(key, profile, serial=serial)
            after = apply(state, change, now)
            if isinstance(after, Refusal):
                return after
            if after.version == state.version:
                return after, False
            values = (
                ttl,
                after.status,
                after.replaced_by,
                set(after.adjusted_by) or None,
                after.cancelled_by,
                set(after.explained_by) or None,
                after.version,
                after.changed_at,
                key,
                state.version or None,  # `IF version = null`: never changed
            )
            result = await execute(self.session, self._set, values, execution_profile=profile)
            if result.was_applied:
                STATE_ROUNDS.labels("applied").inc()
                return after, True
            STATE_ROUNDS.labels("contended").inc()
            serial = True  # the winner's round may still be in progress: complete it and read
        raise StateContention(f"the state of {code} changed {MAX_ROUNDS} times meanwhile")

    async def _read(self, key: bytes, profile: str | None, *, serial: bool) -> InvoiceState:
        statement: Any = self._select.bind((key,))
        if serial:
            statement.consistency_level = self._serial_level(profile)
        result = await execute(self.session, statement, execution_profile=profile)
        return _state(result.current_rows[0]) if result.current_rows else InvoiceState()

    def _serial_level(self, profile: str | None) -> int:
        profiles = self.session.cluster.profile_manager.profiles
        level: int = profiles[profile or EXEC_PROFILE_DEFAULT].serial_consistency_level
        return level or ConsistencyLevel.LOCAL_SERIAL


def _state(row: dict[str, Any]) -> InvoiceState:
    changed_at: dt.datetime | None = row["changed_at"]
    if changed_at is not None and changed_at.tzinfo is None:  # the driver answers naive UTC
        changed_at = changed_at.replace(tzinfo=dt.UTC)
    return InvoiceState(
        status=row["status"],
        replaced_by=row["replaced_by"],
        adjusted_by=_sorted(row["adjusted_by"]),
        cancelled_by=row["cancelled_by"],
        explained_by=_sorted(row["explained_by"]),
        version=row["version"],
        changed_at=changed_at,
    )


def _sorted(values: Sequence[str] | set[str] | None) -> tuple[str, ...]:
    return tuple(sorted(values or ()))
