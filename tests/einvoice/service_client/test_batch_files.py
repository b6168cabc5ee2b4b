"""Cutting an NDJSON file into batches (no servers): the limits, blank lines, the file's indices."""

from __future__ import annotations

from pathlib import Path

from einvoice.service_client.batch_files import (
    Limits,
    count_lines,
    file_batches,
    results_path,
)


def test_the_results_file_sits_beside_the_input() -> None:
    assert results_path(Path("/data/june.ndjson")) == Path("/data/june.results.ndjson")
    assert results_path(Path("june.jsonl")) == Path("june.jsonl.results.ndjson")


def test_batches_hold_at_most_the_lines_allowed_and_name_the_file_s_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b'{"a":0}\n{"a":1}\n\n  \n{"a":4}\n{"a":5}\n{"a":6}')  # no final newline

    batches = list(file_batches(path, Limits(max_lines=2, max_bytes=1024)))

    assert [batch.body for batch in batches] == [
        b'{"a":0}\n{"a":1}\n',
        b'{"a":4}\n{"a":5}\n',
        b'{"a":6}\n',
    ]
    assert [batch.file_lines for batch in batches] == [[0, 1], [4, 5], [6]]
    assert [batch.describe() for batch in batches] == ["lines 1-2", "lines 5-6", "line 7"]
    assert count_lines(path) == 5


def test_batches_hold_at_most_the_bytes_allowed_and_a_larger_line_goes_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.ndjson"
    lines = [b"x" * 10, b"y" * 10, b"z" * 30, b"w" * 5]
    path.write_bytes(b"\n".join(lines) + b"\n")

    batches = list(file_batches(path, Limits(max_lines=100, max_bytes=22)))

    # Each line counts with its newline: 11 + 11 fits in 22, the 31-byte line does not fit at all.
    assert [batch.file_lines for batch in batches] == [[0, 1], [2], [3]]
    assert all(len(batch.body) <= 22 for batch in batches if len(batch.file_lines) > 1)
