"""An NDJSON file cut into batches within the service's limits, and where its results go.

A line's index is its position in the file counted from 0, blank lines included: the line an
editor shows as N has index N - 1, whatever batch it went in. Blank lines are not sent (the
service would skip them too) and get no result. A batch holds at most
`max_lines` lines and `max_bytes` bytes of body (each line with its newline); a single line
larger than that goes alone, for the service to refuse with its own message.

The file is read one batch at a time, so a file of millions of lines never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RESULTS_SUFFIX = ".results.ndjson"


@dataclass(frozen=True)
class Limits:
    max_lines: int
    max_bytes: int


@dataclass(frozen=True)
class FileBatch:
    """One batch's body, and the file's line index of each of its lines, in order."""

    body: bytes
    file_lines: list[int]

    def describe(self) -> str:
        first, last = self.file_lines[0] + 1, self.file_lines[-1] + 1
        return f"line {first}" if first == last else f"lines {first}-{last}"


def results_path(path: Path) -> Path:
    """`X.ndjson` -> `X.results.ndjson` beside it; any other name gets the suffix added."""
    stem = path.name.removesuffix(".ndjson")
    return path.with_name(stem + RESULTS_SUFFIX)


def count_lines(path: Path) -> int:
    """The lines that will be sent (not blank)."""
    with path.open("rb") as file:
        return sum(1 for line in file if line.strip())


def file_batches(path: Path, limits: Limits) -> Iterator[FileBatch]:
    lines: list[bytes] = []
    indices: list[int] = []
    size = 0
    with path.open("rb") as file:
        for index, raw in enumerate(file):
            line = raw.rstrip(b"\n")
            if not line.strip():
                continue
            full = len(lines) >= limits.max_lines or size + len(line) + 1 > limits.max_bytes
            if lines and full:
                yield FileBatch(b"\n".join(lines) + b"\n", indices)
                lines, indices, size = [], [], 0
            lines.append(line)
            indices.append(index)
            size += len(line) + 1
    if lines:
        yield FileBatch(b"\n".join(lines) + b"\n", indices)
