"""Prints what the fuzz sent at the end of the run, whether it passed or not."""

from __future__ import annotations

import pytest

from tests.fuzz.tally import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.requests:
        terminalreporter.write_sep("-", "schemathesis fuzz (tests/fuzz)")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
