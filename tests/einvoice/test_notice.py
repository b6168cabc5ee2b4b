"""A seller's notice (Form 04/SS-HĐĐT) as pure code: its shape, id and signature."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from einvoice.invoice.samples import SELLER_TAX_CODE
from einvoice.notice import MAX_ITEMS, MAX_REASON, notice_id, parse_notice, verify_notice_signature
from signing.seller import sign_invoice
from tests.signing.keys import private_key, seller_key

NOW = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)
CODE = "00" + "AB12" * 8
OTHER_CODE = "00" + "CD34" * 8


def _notice(**changes: Any) -> dict[str, Any]:
    return {
        "seller_tax_code": SELLER_TAX_CODE,
        "issued_date": "2026-12-01",
        "items": [
            {"code": CODE, "action": "cancel", "reason": "Sai thông tin người mua"},
            {"code": OTHER_CODE, "action": "explain", "reason": "Giải trình"},
        ],
        **changes,
    }


def _problems(raw: Any) -> list[tuple[str, str | None]]:
    notice, errors = parse_notice(raw, NOW)
    assert (notice is None) == bool(errors)
    return [(error.code, error.field) for error in errors]


def test_a_notice_reads_with_its_canonical_bytes_and_a_stable_id() -> None:
    notice, errors = parse_notice(_notice(), NOW)

    assert errors == []
    assert notice is not None
    assert notice.issued_date == dt.date(2026, 12, 1)
    assert [(item.code, item.action) for item in notice.items] == [
        (CODE, "cancel"),
        (OTHER_CODE, "explain"),
    ]
    assert notice.canonical.startswith(b'{"issued_date":"2026-12-01","items":[{"action":"cancel"')
    reordered, _ = parse_notice(dict(reversed(list(_notice().items()))), NOW)
    assert reordered is not None
    assert reordered.notice_id == notice.notice_id  # member order is not part of the notice
    assert notice.notice_id == notice_id(SELLER_TAX_CODE, notice.notice_hash)
    changed, _ = parse_notice(_notice(issued_date="2026-11-30"), NOW)
    assert changed is not None
    assert changed.notice_id != notice.notice_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], [("INVALID_TYPE", "/notice")]),
        (_notice(extra=1), [("UNKNOWN_FIELD", "/notice/extra")]),
        (_notice(seller_tax_code=None), [("FIELD_REQUIRED", "/notice/seller_tax_code")]),
        (
            _notice(seller_tax_code="0100109107"),
            [("TAX_CODE_CHECK_DIGIT", "/notice/seller_tax_code")],
        ),
        (_notice(issued_date="01/12/2026"), [("INVALID_DATE", "/notice/issued_date")]),
        (_notice(issued_date="2026-12-02"), [("ISSUE_DATE_IN_FUTURE", "/notice/issued_date")]),
        (_notice(issued_date="2026-05-01"), [("ISSUE_DATE_TOO_OLD", "/notice/issued_date")]),
        (_notice(items=[]), [("OUT_OF_RANGE", "/notice/items")]),
        (_notice(items=None), [("FIELD_REQUIRED", "/notice/items")]),
        (
            _notice(items=[{"code": CODE, "action": "cancel", "reason": "x"}] * 2),
            [("INVALID_VALUE", "/notice/items/1/code")],
        ),
        (
            _notice(items=[{"code": CODE.lower(), "action": "void", "reason": " ", "x": 1}]),
            [
                ("UNKNOWN_FIELD", "/notice/items/0/x"),
                ("INVALID_FORMAT", "/notice/items/0/code"),
                ("INVALID_VALUE", "/notice/items/0/action"),
                ("TOO_SHORT", "/notice/items/0/reason"),
            ],
        ),
        (
            _notice(items=[{"code": CODE, "action": "cancel", "reason": "x" * (MAX_REASON + 1)}]),
            [("TOO_LONG", "/notice/items/0/reason")],
        ),
        (
            _notice(items=[{"code": CODE, "action": "cancel", "reason": "x"}] * (MAX_ITEMS + 1)),
            [("OUT_OF_RANGE", "/notice/items")],
        ),
    ],
)
def test_every_problem_is_named_with_its_field(
    raw: Any, expected: list[tuple[str, str | None]]
) -> None:
    assert _problems(raw) == expected


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_the_sellers_signature_over_the_canonical_notice(alg: str) -> None:
    raw = _notice()
    notice, _ = parse_notice(raw, NOW)
    assert notice is not None
    key = seller_key(alg)
    keys = {key.kid: key}
    signature = sign_invoice(raw, private_key(alg), kid=key.kid, alg=alg)  # the same JWS rules
    other, _ = parse_notice(_notice(issued_date="2026-11-30"), NOW)
    assert other is not None

    assert verify_notice_signature(notice, signature, keys=keys, now=NOW) == []
    assert [e.code for e in verify_notice_signature(other, signature, keys=keys, now=NOW)] == [
        "SIGNATURE_INVALID"
    ]
    assert [e.code for e in verify_notice_signature(notice, None, keys=keys, now=NOW)] == [
        "FIELD_REQUIRED"
    ]
    assert [e.code for e in verify_notice_signature(notice, signature, keys={}, now=NOW)] == [
        "SIGNATURE_KEY_UNKNOWN"
    ]
