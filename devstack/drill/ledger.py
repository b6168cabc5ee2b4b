"""What a drill's load was told, and the comparison of that with what is stored (pure code).

An invoice counts as **acknowledged** when the service answered for it: a 201 or 200 in real
time, or a line of a batch that was answered 202 (whatever happens after the 202 is the service's
promise). The check then puts every acknowledged invoice in exactly one class:
- `duplicated`: it was given two different codes, its code was given to another invoice too, or
  the stored claim names a code it was never told;
- `lost`: no claim is stored, or its document is missing or holds another invoice (hash), or its
  batch line has no result;
- `found`: the one code it was told is the stored claim's, with its document.
Anything else the drill saw that a correct service never answers (a valid invoice rejected, a
409 for a retry of the same bytes) is counted as `unexpected` with its code.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class InvoiceKey:
    """The business key of an invoice: one number per seller, template and symbol."""

    seller_tax_code: str
    template: str
    symbol: str
    number: int


@dataclass(frozen=True)
class Stored:
    """What storage holds for one invoice key: its claim, and the document under its code."""

    code: str
    invoice_hash: str
    document_hash: str | None  # None: no document stored under the claim's code


@dataclass(frozen=True)
class LineOutcome:
    """A batch line's stored result."""

    status: str  # authenticated | duplicate | rejected
    code: str | None
    error_code: str | None = None


@dataclass
class Ledger:
    """Every answer the drill's load was given, as it was given."""

    # Codes each invoice was answered with (a retry answered 200 adds its code again).
    codes: dict[InvoiceKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    hashes: dict[InvoiceKey, str] = field(default_factory=dict)
    # Batches answered 202, with the key of each of their lines in order.
    batches: dict[uuid.UUID, list[InvoiceKey]] = field(default_factory=dict)
    unexpected: Counter[str] = field(default_factory=Counter)

    def answered(self, key: InvoiceKey, code: str, invoice_hash: str) -> None:
        self.codes[key].add(code)
        self.hashes[key] = invoice_hash

    def batch_accepted(self, batch_id: uuid.UUID, keys: list[InvoiceKey]) -> None:
        self.batches[batch_id] = keys

    def saw_unexpected(self, what: str) -> None:
        self.unexpected[what] += 1


@dataclass(frozen=True)
class Report:
    acknowledged: int
    found: int
    lost: int
    duplicated: int
    unexpected: Mapping[str, int]
    # A few examples of each failing class, for the operator to look up.
    examples: Mapping[str, tuple[str, ...]]

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and not self.unexpected

    def last_line(self) -> str:
        return (
            f"acknowledged={self.acknowledged} found={self.found} lost={self.lost} "
            f"duplicated={self.duplicated}"
        )


def keys_to_read(ledger: Ledger) -> set[InvoiceKey]:
    """Every invoice whose stored state the check needs: acknowledged in real time or in a batch."""
    keys = set(ledger.codes)
    for lines in ledger.batches.values():
        keys.update(lines)
    return keys


def check(
    ledger: Ledger,
    stored: Mapping[InvoiceKey, Stored],
    batch_results: Mapping[uuid.UUID, Mapping[int, LineOutcome]],
) -> Report:
    """Compare what the load was told (real time, and the batch results read back) with storage."""
    codes: dict[InvoiceKey, set[str]] = defaultdict(set)
    for key, answered in ledger.codes.items():
        codes[key].update(answered)
    unexpected = Counter(ledger.unexpected)
    examples: dict[str, list[str]] = defaultdict(list)
    missing_results: set[InvoiceKey] = set()
    for batch_id, lines in ledger.batches.items():
        results = batch_results.get(batch_id, {})
        for index, key in enumerate(lines):
            outcome = results.get(index)
            if outcome is not None and outcome.status == "rejected":
                unexpected[f"batch line rejected {outcome.error_code}"] += 1
                _example(examples, "unexpected", f"{key} (batch {batch_id} line {index})")
            elif outcome is None or outcome.code is None:
                missing_results.add(key)
                _example(examples, "lost", f"{key} (batch {batch_id} line {index}: no result)")
            else:
                codes[key].add(outcome.code)
        # Lines without an answer still count as acknowledged: the 202 promised them.
        for key in lines:
            codes.setdefault(key, set())

    holders: dict[str, set[InvoiceKey]] = defaultdict(set)
    for key, answered in codes.items():
        for code in answered:
            holders[code].add(key)

    found = lost = duplicated = 0
    for key, answered in sorted(codes.items()):
        claim = stored.get(key)
        if len(answered) > 1 or any(len(holders[code]) > 1 for code in answered):
            duplicated += 1
            _example(examples, "duplicated", f"{key}: answered {sorted(answered)}")
        elif claim is not None and answered and claim.code not in answered:
            duplicated += 1
            _example(examples, "duplicated", f"{key}: answered {answered}, stored {claim.code}")
        elif (
            claim is None
            or key in missing_results
            or claim.document_hash != claim.invoice_hash
            or (key in ledger.hashes and ledger.hashes[key] != claim.invoice_hash)
        ):
            lost += 1
            _example(examples, "lost", f"{key}: stored {claim}")
        else:
            found += 1
    return Report(
        acknowledged=len(codes),
        found=found,
        lost=lost,
        duplicated=duplicated,
        unexpected=dict(unexpected),
        examples={name: tuple(items) for name, items in examples.items()},
    )


def _example(examples: dict[str, list[str]], kind: str, text: str, keep: int = 5) -> None:
    if len(examples[kind]) < keep:
        examples[kind].append(text)
