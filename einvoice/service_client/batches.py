"""`einvoice batch submit FILE.ndjson`: a file sent as batches and followed until every line has
its result, the results written beside it (batch_files.py: how the file is cut and counted).

The order of the work, and why:
1. Every batch is sent before any is followed. The service stores a batch durably before its 202,
   so a batch sent is processed whatever happens to this command afterwards. A batch refused as a
   whole (a line that is not JSON, another seller's invoice, too large) stops the sending: the
   file needs fixing, and sending it again once fixed is safe, since a line authenticated the
   first time comes back as `duplicate` with its code.
2. The batches sent are polled until each is completed or failed, a few of the oldest unfinished
   at a time (well within the lookup rate limit), and the bar counts the lines with a result.
3. Their results are read in the file's order and written to a temporary file, which replaces
   FILE.results.ndjson only once complete: a results file is never half written.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Never

import orjson
from tqdm import tqdm

from einvoice.service_client.batch_files import (
    FileBatch,
    Limits,
    count_lines,
    file_batches,
    results_path,
)
from einvoice.service_client.http import BatchStatus, ClientError, Refused, ServiceClient

# Unfinished batches polled in a round, oldest first: the workers take batches in about the
# order they were sent, so later ones would mostly answer `accepted` with nothing done.
POLL_AT_ONCE = 8
# Without a new result for this long, say once what usually causes it.
STALL_HINT_S = 60.0
STALL_HINT = (
    "no line has had a result for a minute: is a batch worker running? "
    "(`einvoice worker`; `scripts/start` runs them)"
)


@dataclass
class _SentBatch:
    batch: FileBatch
    batch_id: str
    status: BatchStatus | None = None

    @property
    def finished(self) -> bool:
        return self.status is not None and self.status.finished


@dataclass(frozen=True)
class BatchRefusal:
    """A batch the service refused as a whole; its number counts from 1 in the file."""

    number: int
    batch: FileBatch
    refusal: Refused

    def file_line(self, field: str | None) -> int | None:
        """The file's line (from 1) an error's pointer `/<index in the batch>/...` names."""
        first = (field or "").split("/")[1:2]
        if not first or not first[0].isdigit() or int(first[0]) >= len(self.batch.file_lines):
            return None
        return self.batch.file_lines[int(first[0])] + 1


@dataclass(frozen=True)
class Outcome:
    results_file: Path | None  # None when no batch was sent (nothing to write)
    lines: int  # lines of the file to send (not blank)
    batches: int  # batches sent
    results: Counter[str]  # results written, by status
    refused: BatchRefusal | None
    failed: list[str]  # batches the workers gave up on (their results so far are written)

    @property
    def complete(self) -> bool:
        return self.results.total() == self.lines


def report_wait(refusal: Refused, seconds: float) -> None:
    """What a batch command prints when the service asks it to wait (the bar stays whole)."""
    tqdm.write(f"waiting {seconds:.0f} s as the service asks: {refusal}", file=sys.stderr)


def submit_file(
    client: ServiceClient,
    path: Path,
    limits: Limits,
    *,
    poll_interval_s: float = 1.0,
    show_progress: bool = True,
) -> Outcome:
    lines = count_lines(path)
    if lines == 0:
        raise ClientError(f"{path} has no lines to send")
    sent: list[_SentBatch] = []
    with tqdm(
        total=lines, unit="line", desc="sending", disable=not show_progress, file=sys.stderr
    ) as bar:
        try:
            refused = _send(client, path, limits, bar, sent)
            if refused is not None:
                # The bar counts what was sent, so that it can finish; the refusal is told after.
                bar.total = sum(len(item.batch.file_lines) for item in sent)
                bar.set_description(f"results (batch {refused.number} refused)")
            else:
                bar.set_description("results")
            _follow(client, sent, bar, poll_interval_s)
        except (KeyboardInterrupt, ClientError):
            if sent:  # processed anyway: their ids, to read their results later
                ids = ", ".join(item.batch_id for item in sent)
                tqdm.write(f"stopped; the service goes on with batches {ids}", file=sys.stderr)
            raise
    if not sent:
        return Outcome(None, lines, 0, Counter(), refused, [])
    target = results_path(path)
    results = _write_results(client, sent, target)
    failed = [item.batch_id for item in sent if item.status and item.status.status == "failed"]
    return Outcome(target, lines, len(sent), results, refused, failed)


def _send(
    client: ServiceClient, path: Path, limits: Limits, bar: tqdm[Never], sent: list[_SentBatch]
) -> BatchRefusal | None:
    """Send the file's batches, each appended to `sent` once accepted, up to the first refused."""
    for number, batch in enumerate(file_batches(path, limits), start=1):
        bar.set_description(f"sending batch {number}")
        try:
            sent.append(_SentBatch(batch, client.submit_batch(batch.body)))
        except Refused as refusal:
            return BatchRefusal(number, batch, refusal)
    return None


def _follow(
    client: ServiceClient,
    sent: list[_SentBatch],
    bar: tqdm[Never],
    poll_interval_s: float,
) -> None:
    last_result_at = time.monotonic()
    hinted = False
    while True:
        for item in [item for item in sent if not item.finished][:POLL_AT_ONCE]:
            item.status = client.batch_status(item.batch_id)
        statuses = [item.status for item in sent if item.status is not None]
        bar.set_postfix(
            authenticated=sum(status.authenticated for status in statuses),
            duplicate=sum(status.duplicates for status in statuses),
            rejected=sum(status.rejected for status in statuses),
            refresh=False,  # drawn with the count below, not a step behind it
        )
        done = sum(status.with_result for status in statuses)
        if done > bar.n:
            bar.update(done - bar.n)
            last_result_at = time.monotonic()
        else:
            bar.refresh()
        if all(item.finished for item in sent):
            return
        if not hinted and time.monotonic() - last_result_at > STALL_HINT_S:
            tqdm.write(STALL_HINT, file=sys.stderr)
            hinted = True
        time.sleep(poll_interval_s)


def _write_results(client: ServiceClient, sent: list[_SentBatch], target: Path) -> Counter[str]:
    """Every sent batch's results in the file's order, each `index` the line's in the file."""
    counts: Counter[str] = Counter()
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            for item in sent:
                for result in client.batch_results(item.batch_id):
                    result["index"] = item.batch.file_lines[result["index"]]
                    out.write(orjson.dumps(result) + b"\n")
                    counts[result["status"]] += 1
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return counts
