"""What the fuzz sent: requests by operation and by status, and how long it took. Kept by the fuzz
test, reported after the run (tests/fuzz/conftest.py) and checked against the CI budget."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    by_operation: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    by_operation_status: Counter[tuple[str, int]] = field(default_factory=Counter)
    # The operations the schema has: the budget is checked only when every one of them ran.
    operations: set[str] = field(default_factory=set)
    started: float | None = None
    last: float | None = None

    def count(self, operation: str, status: int) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        self.last = now
        self.by_operation[operation] += 1
        self.by_status[status] += 1
        self.by_operation_status[operation, status] += 1

    @property
    def requests(self) -> int:
        return self.by_operation.total()

    @property
    def seconds(self) -> float:
        if self.started is None or self.last is None:
            return 0.0
        return self.last - self.started

    def lines(self) -> list[str]:
        """The report: the total and the statuses, then each operation's."""
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status.items()))
        lines = [
            f"{self.requests} requests over {len(self.by_operation)} operations "
            f"in {self.seconds:.0f} s; by status: {statuses}"
        ]
        width = max((len(label) for label in self.by_operation), default=0)
        for label, n in sorted(self.by_operation.items()):
            answers = " ".join(
                f"{status}:{count}"
                for (operation, status), count in sorted(self.by_operation_status.items())
                if operation == label
            )
            lines.append(f"  {label:<{width}}  {n:>7}  {answers}")
        return lines


TALLY = Tally()
