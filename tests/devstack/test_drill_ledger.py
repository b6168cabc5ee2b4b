"""The fault drill's checker: every acknowledged invoice is found, lost or duplicated, never
quietly passed (pure code; the drill itself runs in tests/devstack/test_drill_faults.py)."""

from __future__ import annotations

import uuid

from devstack.drill.ledger import InvoiceKey, Ledger, LineOutcome, Stored, check, keys_to_read

SELLER = "0100109106"


def key(number: int) -> InvoiceKey:
    return InvoiceKey(SELLER, "1", "C26TAA", number)


def code(number: int) -> str:
    return f"00{number:032X}"


def stored(number: int, *, document: bool = True, claim_code: str | None = None) -> Stored:
    return Stored(claim_code or code(number), f"h{number}", f"h{number}" if document else None)


def answered(ledger: Ledger, number: int, given: str | None = None) -> None:
    ledger.answered(key(number), given or code(number), f"h{number}")


def test_every_answer_stored_is_found() -> None:
    ledger = Ledger()
    for number in (1, 2, 3):
        answered(ledger, number)
    answered(ledger, 2)  # a retry answered 200 with the same code
    report = check(ledger, {key(n): stored(n) for n in (1, 2, 3)}, {})
    assert (report.acknowledged, report.found, report.lost, report.duplicated) == (3, 3, 0, 0)
    assert report.passed
    assert report.last_line() == "acknowledged=3 found=3 lost=0 duplicated=0"


def test_a_missing_claim_or_document_is_lost() -> None:
    ledger = Ledger()
    for number in (1, 2, 3):
        answered(ledger, number)
    report = check(ledger, {key(1): stored(1), key(2): stored(2, document=False)}, {})
    assert (report.found, report.lost, report.duplicated) == (1, 2, 0)
    assert not report.passed


def test_a_document_of_another_invoice_is_lost() -> None:
    ledger = Ledger()
    answered(ledger, 1)
    report = check(ledger, {key(1): Stored(code(1), "h1", "h-other")}, {})
    assert report.lost == 1


def test_two_codes_for_one_invoice_or_one_code_for_two_are_duplicated() -> None:
    ledger = Ledger()
    answered(ledger, 1)
    answered(ledger, 1, given=code(99))  # the retry got another code
    answered(ledger, 2)
    answered(ledger, 3, given=code(2))  # one code given to two invoices
    answered(ledger, 4)
    report = check(
        ledger,
        {
            key(1): stored(1),
            key(2): stored(2),
            key(3): stored(3),
            key(4): stored(4, claim_code=code(44)),  # stored under a code never told
        },
        {},
    )
    assert (report.acknowledged, report.found, report.lost, report.duplicated) == (4, 0, 0, 4)
    assert len(report.examples["duplicated"]) == 4


def test_batch_lines_are_acknowledged_by_the_202_and_checked_by_their_results() -> None:
    ledger = Ledger()
    batch = uuid.uuid1()
    ledger.batch_accepted(batch, [key(1), key(2), key(3)])
    results = {
        batch: {
            0: LineOutcome("authenticated", code(1)),
            1: LineOutcome("duplicate", code(2)),  # its earlier copy was stored first
        }
    }
    stores = {key(n): stored(n) for n in (1, 2, 3)}
    report = check(ledger, stores, results)
    assert keys_to_read(ledger) == {key(1), key(2), key(3)}
    assert (report.acknowledged, report.found, report.lost) == (3, 2, 1)  # line 2: no result
    assert "no result" in report.examples["lost"][0]


def test_a_rejected_valid_line_and_unexpected_answers_fail_the_drill() -> None:
    ledger = Ledger()
    batch = uuid.uuid1()
    ledger.batch_accepted(batch, [key(1)])
    ledger.saw_unexpected("realtime 409 NUMBER_USED")
    results = {batch: {0: LineOutcome("rejected", None, "SIGNATURE_INVALID")}}
    report = check(ledger, {key(1): stored(1)}, results)
    assert report.unexpected == {
        "realtime 409 NUMBER_USED": 1,
        "batch line rejected SIGNATURE_INVALID": 1,
    }
    assert report.lost == 0
    assert not report.passed


def test_the_same_invoice_in_real_time_and_in_a_batch_must_share_its_code() -> None:
    ledger = Ledger()
    answered(ledger, 1)
    batch = uuid.uuid1()
    ledger.batch_accepted(batch, [key(1)])
    same = check(ledger, {key(1): stored(1)}, {batch: {0: LineOutcome("duplicate", code(1))}})
    assert (same.acknowledged, same.found) == (1, 1)
    other = check(ledger, {key(1): stored(1)}, {batch: {0: LineOutcome("duplicate", code(7))}})
    assert other.duplicated == 1
