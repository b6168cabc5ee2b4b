"""Helpers for invoice tests: run structure and rules, and list (code, field) pairs."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from einvoice.invoice.rules import check_invoice
from einvoice.invoice.samples import sample_invoice
from einvoice.invoice.structure import parse_invoice

NOW = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)


def problems(raw: Any, now: dt.datetime = NOW) -> list[tuple[str, str | None]]:
    invoice, errors = parse_invoice(raw)
    if invoice is not None:
        errors = check_invoice(invoice, now)
    return [(error.code, error.field) for error in errors]


def valid(**changes: Any) -> dict[str, Any]:
    """A deep copy of the 10-line sample invoice with top-level fields replaced."""
    invoice = copy.deepcopy(sample_invoice())
    invoice.update(changes)
    return invoice
