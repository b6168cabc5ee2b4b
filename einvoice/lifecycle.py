"""An invoice's life after authentication (issue #17, docs/lifecycle.md): its status, and which
changes each status allows. Pure: storage/cassandra/states.py applies these transitions with a
lightweight transaction on the invoice's state, so two changes racing cannot both win or lose
one another.

Statuses: `authenticated` (no change yet), `adjusted` (one or more adjustment invoices refer to
it; still valid), `replaced` (a replacement invoice took its place; no longer valid) and
`cancelled` (the seller cancelled it with a notice, Form 04/SS-HĐĐT; no longer valid).

    change                     allowed from              refused when
    replace (invoice code)     authenticated, adjusted   replaced, cancelled
    adjust (invoice code)      authenticated, adjusted   replaced, cancelled
    cancel (notice id)         authenticated, adjusted   replaced, cancelled
    explain (notice id)        any                       never

Applying a change that is already applied (the same replacement, adjustment or notice again: a
retry) changes nothing and succeeds, so every change is safe to retry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from einvoice.error_codes import ErrorCode

AUTHENTICATED = "authenticated"
ADJUSTED = "adjusted"
REPLACED = "replaced"
CANCELLED = "cancelled"
STATUSES = (AUTHENTICATED, ADJUSTED, REPLACED, CANCELLED)
# Statuses under which an invoice no longer stands: the public check answers `valid: false`.
VOID = frozenset({REPLACED, CANCELLED})

ChangeKind = Literal["replace", "adjust", "cancel", "explain"]
# Cassandra keeps timestamps to the millisecond: `changed_at` steps by at least that much.
_MILLISECOND = dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class InvoiceState:
    """What happened to an invoice since it was authenticated. `version` counts the changes (0:
    none); `changed_at` is the last one's time, strictly increasing from version to version, so
    it orders copies of the state written anywhere else (index rows, the cache)."""

    status: str = AUTHENTICATED
    replaced_by: str | None = None  # the replacement invoice's code
    adjusted_by: tuple[str, ...] = ()  # the adjustment invoices' codes, sorted
    cancelled_by: str | None = None  # the notice that cancelled it
    explained_by: tuple[str, ...] = ()  # notices that explained it, sorted
    version: int = 0
    changed_at: dt.datetime | None = None

    @property
    def void(self) -> bool:
        return self.status in VOID

    def as_json(self) -> dict[str, object]:
        """The members a lookup document adds for this state: `status` always, the others only
        when they have a value."""
        members: dict[str, object] = {"status": self.status}
        if self.replaced_by is not None:
            members["replaced_by"] = self.replaced_by
        if self.adjusted_by:
            members["adjusted_by"] = list(self.adjusted_by)
        if self.cancelled_by is not None:
            members["cancelled_by"] = self.cancelled_by
        if self.explained_by:
            members["explained_by"] = list(self.explained_by)
        return members


# The state of an invoice that never changed.
UNCHANGED = InvoiceState()


@dataclass(frozen=True)
class Change:
    """A change to an invoice: by the invoice (`replace`, `adjust`: `by` is its code) or by a
    notice (`cancel`, `explain`: `by` is the notice id)."""

    kind: ChangeKind
    by: str


@dataclass(frozen=True)
class Refusal:
    """Why a change cannot apply: a stable code, for the status the invoice is in."""

    code: ErrorCode
    status: str


def apply(state: InvoiceState, change: Change, now: dt.datetime) -> InvoiceState | Refusal:
    """The state after `change`: the same state (same version) when the change is already
    applied, a Refusal when the state forbids it, else the next version."""
    if _already(state, change):
        return state
    if change.kind != "explain" and state.void:
        return Refusal(_refusal_code(change, state.status), state.status)
    if change.kind == "replace":
        changed = dataclasses.replace(state, status=REPLACED, replaced_by=change.by)
    elif change.kind == "adjust":
        adjusted_by = tuple(sorted({*state.adjusted_by, change.by}))
        status = ADJUSTED if state.status == AUTHENTICATED else state.status
        changed = dataclasses.replace(state, status=status, adjusted_by=adjusted_by)
    elif change.kind == "cancel":
        changed = dataclasses.replace(state, status=CANCELLED, cancelled_by=change.by)
    else:
        explained_by = tuple(sorted({*state.explained_by, change.by}))
        changed = dataclasses.replace(state, explained_by=explained_by)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    changed_at = now if state.changed_at is None else max(now, state.changed_at + _MILLISECOND)
    return dataclasses.replace(changed, version=state.version + 1, changed_at=changed_at)


def _already(state: InvoiceState, change: Change) -> bool:
    if change.kind == "replace":
        return state.replaced_by == change.by
    if change.kind == "adjust":
        return change.by in state.adjusted_by
    if change.kind == "cancel":
        return state.cancelled_by == change.by
    return change.by in state.explained_by


def _refusal_code(change: Change, status: str) -> ErrorCode:
    by_invoice = change.kind in ("replace", "adjust")
    if status == REPLACED:
        return ErrorCode.ORIGINAL_REPLACED if by_invoice else ErrorCode.INVOICE_REPLACED
    return ErrorCode.ORIGINAL_CANCELLED if by_invoice else ErrorCode.INVOICE_CANCELLED
