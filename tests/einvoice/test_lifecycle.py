"""An invoice's life after authentication as pure code (einvoice/lifecycle.py): every change from
every status, retries that change nothing, `changed_at` that only moves forward, and properties
of random sequences of changes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.error_codes import ErrorCode
from einvoice.lifecycle import (
    ADJUSTED,
    AUTHENTICATED,
    CANCELLED,
    REPLACED,
    STATUSES,
    UNCHANGED,
    VOID,
    Change,
    ChangeKind,
    InvoiceState,
    Refusal,
    apply,
)

T0 = dt.datetime(2026, 12, 1, 3, 0, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=1)
MS = dt.timedelta(milliseconds=1)

# Invoice codes and notice ids. The new adjustment's code sorts before the first one's, so an
# adjustment that keeps its order only by appending shows.
REPLACEMENT = "00" + "RR11" * 8
OTHER_REPLACEMENT = "00" + "RR22" * 8
ADJUSTMENT = "00" + "BB11" * 8
EARLIER_ADJUSTMENT = "00" + "AA11" * 8
CANCELLING = "N-cancel-1"
OTHER_CANCELLING = "N-cancel-2"
EXPLAINING = "N-explain-1"

KINDS: tuple[ChangeKind, ...] = get_args(ChangeKind)

# A change each status has not seen yet, by kind.
NEW_CHANGE = {
    "replace": Change("replace", OTHER_REPLACEMENT),
    "adjust": Change("adjust", EARLIER_ADJUSTMENT),
    "cancel": Change("cancel", OTHER_CANCELLING),
    "explain": Change("explain", EXPLAINING),
}


def _applied(state: InvoiceState, change: Change, now: dt.datetime = T0) -> InvoiceState:
    after = apply(state, change, now)
    assert isinstance(after, InvoiceState), after
    return after


def _in(status: str) -> InvoiceState:
    """A state in `status`, reached by the change that leads there (at T0)."""
    by_status = {
        AUTHENTICATED: lambda: UNCHANGED,
        ADJUSTED: lambda: _applied(UNCHANGED, Change("adjust", ADJUSTMENT)),
        REPLACED: lambda: _applied(UNCHANGED, Change("replace", REPLACEMENT)),
        CANCELLED: lambda: _applied(UNCHANGED, Change("cancel", CANCELLING)),
    }
    return by_status[status]()


# (status, change kind) -> the next state's members (as_json), or the refusal's code.
TABLE: dict[tuple[str, ChangeKind], dict[str, object] | ErrorCode] = {
    (AUTHENTICATED, "replace"): {"status": REPLACED, "replaced_by": OTHER_REPLACEMENT},
    (AUTHENTICATED, "adjust"): {"status": ADJUSTED, "adjusted_by": [EARLIER_ADJUSTMENT]},
    (AUTHENTICATED, "cancel"): {"status": CANCELLED, "cancelled_by": OTHER_CANCELLING},
    (AUTHENTICATED, "explain"): {"status": AUTHENTICATED, "explained_by": [EXPLAINING]},
    (ADJUSTED, "replace"): {
        "status": REPLACED,
        "replaced_by": OTHER_REPLACEMENT,
        "adjusted_by": [ADJUSTMENT],
    },
    (ADJUSTED, "adjust"): {"status": ADJUSTED, "adjusted_by": [EARLIER_ADJUSTMENT, ADJUSTMENT]},
    (ADJUSTED, "cancel"): {
        "status": CANCELLED,
        "adjusted_by": [ADJUSTMENT],
        "cancelled_by": OTHER_CANCELLING,
    },
    (ADJUSTED, "explain"): {
        "status": ADJUSTED,
        "adjusted_by": [ADJUSTMENT],
        "explained_by": [EXPLAINING],
    },
    (REPLACED, "replace"): ErrorCode.ORIGINAL_REPLACED,
    (REPLACED, "adjust"): ErrorCode.ORIGINAL_REPLACED,
    (REPLACED, "cancel"): ErrorCode.INVOICE_REPLACED,
    (REPLACED, "explain"): {
        "status": REPLACED,
        "replaced_by": REPLACEMENT,
        "explained_by": [EXPLAINING],
    },
    (CANCELLED, "replace"): ErrorCode.ORIGINAL_CANCELLED,
    (CANCELLED, "adjust"): ErrorCode.ORIGINAL_CANCELLED,
    (CANCELLED, "cancel"): ErrorCode.INVOICE_CANCELLED,
    (CANCELLED, "explain"): {
        "status": CANCELLED,
        "cancelled_by": CANCELLING,
        "explained_by": [EXPLAINING],
    },
}


def test_the_table_covers_every_status_and_every_change() -> None:
    assert set(TABLE) == set(itertools.product(STATUSES, KINDS))
    assert set(STATUSES) == {AUTHENTICATED, ADJUSTED, REPLACED, CANCELLED}
    assert {REPLACED, CANCELLED} == VOID


@pytest.mark.parametrize(("status", "kind"), list(TABLE))
def test_each_change_from_each_status_gives_the_next_version_or_a_refusal(
    status: str, kind: ChangeKind
) -> None:
    state = _in(status)
    assert state.status == status

    after = apply(state, NEW_CHANGE[kind], T1)

    expected = TABLE[status, kind]
    if isinstance(expected, ErrorCode):
        assert after == Refusal(expected, status)
    else:
        assert isinstance(after, InvoiceState)
        assert after.as_json() == expected
        assert after.version == state.version + 1
        assert after.changed_at == T1


@pytest.mark.parametrize("status", STATUSES)
def test_a_state_is_void_exactly_when_replaced_or_cancelled(status: str) -> None:
    assert _in(status).void is (status in (REPLACED, CANCELLED))


def test_an_unchanged_invoice_is_authenticated_at_version_zero_with_no_time() -> None:
    assert InvoiceState() == UNCHANGED
    assert UNCHANGED.status == AUTHENTICATED
    assert UNCHANGED.version == 0
    assert UNCHANGED.changed_at is None
    assert not UNCHANGED.void


@pytest.mark.parametrize(("status", "kind"), list(TABLE))
def test_applying_the_same_change_twice_gives_the_same_state(status: str, kind: ChangeKind) -> None:
    change = NEW_CHANGE[kind]
    once = apply(_in(status), change, T1)
    if isinstance(once, Refusal):
        assert apply(_in(status), change, T1 + MS) == once  # refused again, the same way
        return

    twice = apply(once, change, T1 + dt.timedelta(hours=1))

    assert twice == once
    assert isinstance(twice, InvoiceState)
    assert twice.version == once.version
    assert twice.changed_at == T1


@pytest.mark.parametrize(
    "change",
    [
        Change("replace", REPLACEMENT),
        Change("adjust", ADJUSTMENT),
        Change("cancel", CANCELLING),
        Change("explain", EXPLAINING),
    ],
)
def test_a_retry_after_later_changes_still_succeeds_and_changes_nothing(change: Change) -> None:
    state = _applied(UNCHANGED, change, T0)
    # Later changes the state allows: another notice explains it; an adjustment when it stands.
    state = _applied(state, Change("explain", "N-explain-later"), T1)
    if not state.void:
        state = _applied(state, Change("adjust", "00" + "CC11" * 8), T1)

    assert apply(state, change, T1 + dt.timedelta(hours=1)) == state


def test_a_retried_adjustment_of_an_invoice_replaced_since_succeeds_unchanged() -> None:
    adjusted = _applied(UNCHANGED, Change("adjust", ADJUSTMENT), T0)
    replaced = _applied(adjusted, Change("replace", REPLACEMENT), T1)

    assert apply(replaced, Change("adjust", ADJUSTMENT), T1 + MS) == replaced
    assert apply(replaced, Change("adjust", EARLIER_ADJUSTMENT), T1 + MS) == Refusal(
        ErrorCode.ORIGINAL_REPLACED, REPLACED
    )


def test_adjustments_are_listed_sorted_and_once_each() -> None:
    codes = ["00" + "DD11" * 8, ADJUSTMENT, "00" + "CC11" * 8, EARLIER_ADJUSTMENT]
    state = UNCHANGED
    for i, code in enumerate(codes + codes):
        state = _applied(state, Change("adjust", code), T0 + i * MS)

    assert state.adjusted_by == tuple(sorted(codes))
    assert state.version == len(codes)
    assert state.status == ADJUSTED


def test_explanations_are_listed_sorted_and_once_each_and_keep_the_status() -> None:
    state = _in(CANCELLED)
    for i, notice in enumerate(["N-3", "N-1", "N-2", "N-1"]):
        state = _applied(state, Change("explain", notice), T1 + i * MS)

    assert state.explained_by == ("N-1", "N-2", "N-3")
    assert state.status == CANCELLED
    assert state.cancelled_by == CANCELLING
    assert state.version == 4


def test_replacing_an_adjusted_invoice_keeps_its_adjustments() -> None:
    state = _applied(UNCHANGED, Change("adjust", ADJUSTMENT), T0)
    state = _applied(state, Change("adjust", EARLIER_ADJUSTMENT), T0 + MS)

    replaced = _applied(state, Change("replace", REPLACEMENT), T1)

    assert replaced.status == REPLACED
    assert replaced.replaced_by == REPLACEMENT
    assert replaced.adjusted_by == (EARLIER_ADJUSTMENT, ADJUSTMENT)
    assert replaced.void


def test_cancelling_an_adjusted_invoice_is_allowed_and_keeps_its_adjustments() -> None:
    cancelled = _applied(_in(ADJUSTED), Change("cancel", CANCELLING), T1)

    assert cancelled.status == CANCELLED
    assert cancelled.cancelled_by == CANCELLING
    assert cancelled.adjusted_by == (ADJUSTMENT,)
    assert cancelled.void


def test_a_refusal_names_the_status_the_invoice_is_in() -> None:
    replaced_after_adjustment = _applied(_in(ADJUSTED), Change("replace", REPLACEMENT), T1)

    assert apply(replaced_after_adjustment, Change("cancel", CANCELLING), T1 + MS) == Refusal(
        ErrorCode.INVOICE_REPLACED, REPLACED
    )


# -- changed_at -------------------------------------------------------------------------------


def test_the_first_change_is_at_now_truncated_to_the_millisecond() -> None:
    now = T0.replace(microsecond=123_456)

    state = _applied(UNCHANGED, Change("explain", EXPLAINING), now)

    assert state.changed_at == T0.replace(microsecond=123_000)
    assert state.changed_at.tzinfo is dt.UTC


def test_a_later_change_is_at_now_truncated_to_the_millisecond() -> None:
    state = _applied(UNCHANGED, Change("adjust", ADJUSTMENT), T0)

    after = _applied(state, Change("adjust", EARLIER_ADJUSTMENT), T1.replace(microsecond=999_999))

    assert after.changed_at == T1.replace(microsecond=999_000)


@pytest.mark.parametrize(
    "now",
    [
        T1 - dt.timedelta(seconds=5),  # another process's clock is behind
        T1 - MS,
        T1,  # the same millisecond
        T1 + dt.timedelta(microseconds=999),  # the same millisecond once truncated
    ],
)
def test_changed_at_steps_one_millisecond_when_now_is_not_later(now: dt.datetime) -> None:
    state = _applied(UNCHANGED, Change("adjust", ADJUSTMENT), T1)

    after = _applied(state, Change("explain", EXPLAINING), now)

    assert after.changed_at == T1 + MS
    assert after.version == state.version + 1


def test_changed_at_keeps_stepping_while_the_clock_stays_behind() -> None:
    state = _applied(UNCHANGED, Change("adjust", ADJUSTMENT), T1)
    behind = T0  # a minute behind, every time

    for i in range(1, 6):
        state = _applied(state, Change("explain", f"N-{i}"), behind)
        assert state.changed_at == T1 + i * MS

    state = _applied(state, Change("explain", "N-caught-up"), T1 + dt.timedelta(seconds=1))
    assert state.changed_at == T1 + dt.timedelta(seconds=1)


# -- as_json ----------------------------------------------------------------------------------


def test_the_json_members_are_the_status_only_when_nothing_else_is_set() -> None:
    assert UNCHANGED.as_json() == {"status": AUTHENTICATED}


def test_the_json_members_carry_every_member_that_is_set_as_lists() -> None:
    state = InvoiceState(
        status=REPLACED,
        replaced_by=REPLACEMENT,
        adjusted_by=(EARLIER_ADJUSTMENT, ADJUSTMENT),
        cancelled_by=None,
        explained_by=("N-1", "N-2"),
        version=4,
        changed_at=T1,
    )

    assert state.as_json() == {
        "status": REPLACED,
        "replaced_by": REPLACEMENT,
        "adjusted_by": [EARLIER_ADJUSTMENT, ADJUSTMENT],
        "explained_by": ["N-1", "N-2"],
    }
    cancelled = _applied(_in(ADJUSTED), Change("cancel", CANCELLING), T1)
    assert cancelled.as_json() == {
        "status": CANCELLED,
        "adjusted_by": [ADJUSTMENT],
        "cancelled_by": CANCELLING,
    }


# -- properties of random sequences of changes ------------------------------------------------

PROPERTY = settings(max_examples=300, deadline=None)

# Few codes and notices, shared between kinds, so that retries and clashes are frequent.
_INVOICE_CODES = ["00" + "AA11" * 8, "00" + "BB22" * 8, "00" + "CC33" * 8]
_NOTICE_IDS = ["N-1", "N-2", "N-3"]
_changes = st.one_of(
    st.builds(Change, st.sampled_from(["replace", "adjust"]), st.sampled_from(_INVOICE_CODES)),
    st.builds(Change, st.sampled_from(["cancel", "explain"]), st.sampled_from(_NOTICE_IDS)),
)
# Times within a few milliseconds of one another, in any order: clocks of several processes.
_nows = st.datetimes(
    min_value=dt.datetime(2026, 12, 1, 3, 0, 0),
    max_value=dt.datetime(2026, 12, 1, 3, 0, 0, 20_000),
    timezones=st.just(dt.UTC),
)


def _truncated(now: dt.datetime) -> dt.datetime:
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@PROPERTY
@given(st.lists(st.tuples(_changes, _nows), max_size=30))
def test_random_sequences_of_changes_keep_the_lifecycles_promises(
    steps: list[tuple[Change, dt.datetime]],
) -> None:
    state = UNCHANGED
    applied: set[Change] = set()  # every change that took effect so far
    for change, now in steps:
        after = apply(state, change, now)

        if change in applied:  # a retry: the same state, same version
            assert after == state
            continue
        if state.void and change.kind != "explain":
            assert isinstance(after, Refusal)
            assert after.status == state.status
            by_invoice = change.kind in ("replace", "adjust")
            expected = {
                (REPLACED, True): ErrorCode.ORIGINAL_REPLACED,
                (REPLACED, False): ErrorCode.INVOICE_REPLACED,
                (CANCELLED, True): ErrorCode.ORIGINAL_CANCELLED,
                (CANCELLED, False): ErrorCode.INVOICE_CANCELLED,
            }
            assert after.code == expected[state.status, by_invoice]
            continue

        # An effective change: the next version, later than the last.
        assert isinstance(after, InvoiceState), after
        applied.add(change)
        assert after.version == state.version + 1
        assert after.changed_at is not None
        assert after.changed_at.microsecond % 1000 == 0
        assert after.changed_at >= _truncated(now)
        if state.changed_at is not None:
            assert after.changed_at > state.changed_at
            assert after.changed_at == max(_truncated(now), state.changed_at + MS)
        # Void is final: only an explanation applies, and it keeps the status.
        if state.void:
            assert change.kind == "explain"
            assert after.status == state.status
        # What was set stays set.
        if state.replaced_by is not None:
            assert after.replaced_by == state.replaced_by
        if state.cancelled_by is not None:
            assert after.cancelled_by == state.cancelled_by
        assert set(state.adjusted_by) <= set(after.adjusted_by)
        assert set(state.explained_by) <= set(after.explained_by)
        state = after

        # Invariants of every state.
        assert state.adjusted_by == tuple(sorted(set(state.adjusted_by)))
        assert state.explained_by == tuple(sorted(set(state.explained_by)))
        assert (state.status == REPLACED) is (state.replaced_by is not None)
        assert (state.status == CANCELLED) is (state.cancelled_by is not None)
        if state.status == AUTHENTICATED:
            assert state.adjusted_by == ()
        if state.status == ADJUSTED:
            assert state.adjusted_by != ()

    assert state.version == len(applied)
