"""Logs as JSON lines, one object a line, for every process (the API, workers, the CLI's servers).

Each line has `time` (UTC, milliseconds), `level`, `logger`, `message`, the `request_id` of the
request or batch it was written for (einvoice/request_context.py) with its `client_id` and `seller`
when known, whatever the call passed in `extra` (the access log's `method`, `route`, `status`,
`duration_ms`; a worker's `batch_id`), and `exception` with the traceback. A log collector reads
them as they are; `EINVOICE_LOG_FORMAT=text` gives the same fields as one readable line, for a
terminal.

The standard library's logging with our own formatter rather than structlog: every module already
logs through `logging` (and so do the drivers and granian), and one formatter covers them all.

Lines are written in batches (`LineBuffer`): a write to stderr per line cost cached lookups about
a fifth of their throughput (scripts/bench_lookup.py, docs/operations.md), more than the line's
formatting (likely because each write releases the GIL to granian's threads and waits to get it
back). A line waits at most `FLUSH_EVERY_S`; a warning or an error is written at once, with every
line before it. The access log's line (`access`) skips the logging machinery too, for the same
reason: it is one dict, written as JSON, per request.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import sys
import threading
import time
from typing import Any, Literal

import orjson

from einvoice.request_context import current

# What every LogRecord has; anything else on a record came from the call's `extra`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

LogFormat = Literal["json", "text"]


# The line's time to the second, kept for the next line: the access log writes many a second.
_second: tuple[int, str] = (0, "")


def _time(created: float) -> str:
    """`2026-12-01T17:59:13.009+00:00`: UTC, milliseconds."""
    global _second
    whole = int(created)
    if _second[0] != whole:
        _second = (whole, dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}+00:00"


def _add_request(fields: dict[str, Any]) -> None:
    """The id of the request the line is written for, and who made it, when known."""
    context = current.get()
    if context is not None:
        fields["request_id"] = context.request_id
        if context.client_id is not None:
            fields["client_id"] = context.client_id
        if context.seller is not None:
            fields["seller"] = context.seller


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": _time(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    _add_request(fields)
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRIBUTES:
            fields[key] = value
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # default=str: an `extra` value orjson does not know (a UUID subclass, a Path) is written
        # as its text rather than losing the line.
        return orjson.dumps(_fields(record), default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _text_line(_fields(record))


def _text_line(fields: dict[str, Any]) -> str:
    """`time LEVEL logger message [key=value ...]`, then the traceback's lines, if any."""
    head = f"{fields.pop('time')} {fields.pop('level')} {fields.pop('logger')}"
    message = fields.pop("message")
    exception = fields.pop("exception", None)
    rest = " ".join(f"{key}={value}" for key, value in fields.items())
    line = f"{head} {message}" + (f" [{rest}]" if rest else "")
    return f"{line}\n{exception}" if exception else line


def formatter_path(log_format: LogFormat) -> str:
    """The formatter's import path, for servers configured by dictConfig (granian)."""
    return f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'TextFormatter'}"


FLUSH_EVERY_S = 0.5
_FLUSH_BYTES = 64 * 1024


class LineBuffer:
    """Lines for stderr, written together: when `FLUSH_EVERY_S` has passed since the last write
    (checked at each line, and by a thread while no line comes), when 64 KiB wait, on `flush()`
    and at exit. A process killed outright loses at most the last half second of lines."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._last_write = time.monotonic()
        self._flusher_pid = 0  # the process whose thread flushes (a forked child starts its own)

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self._size += len(line)
            due = self._size >= _FLUSH_BYTES or time.monotonic() - self._last_write > FLUSH_EVERY_S
        if self._flusher_pid != os.getpid():
            self._start_flusher()
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
            self._last_write = time.monotonic()
        if lines:
            lines.append("")
            sys.stderr.write("\n".join(lines))
            sys.stderr.flush()

    def _start_flusher(self) -> None:
        self._flusher_pid = os.getpid()

        def flush_now_and_then() -> None:
            while True:
                time.sleep(FLUSH_EVERY_S)
                self.flush()

        threading.Thread(target=flush_now_and_then, name="log-flusher", daemon=True).start()

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's lines are the parent's to write, and its lock may have
        been held by its flusher thread at the fork, which the child does not have."""
        self._lines, self._size = [], 0
        self._lock = threading.Lock()
        self._flusher_pid = 0


_buffer = LineBuffer()
atexit.register(lambda: _buffer.flush())
os.register_at_fork(after_in_child=_buffer.forget_after_fork)


def flush() -> None:
    """Write the lines waiting now (a process about to stop)."""
    _buffer.flush()


class _BufferedHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _buffer.add(self.format(record))
            if record.levelno >= logging.WARNING:
                _buffer.flush()  # what went wrong, and what led to it, written now
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        _buffer.flush()


# Set by `configure`: whether this process's logging is ours (then the access line goes straight
# to the buffer, in this format), or someone else's (pytest, an embedding program: then it is a
# `logging` record like any other, for their handlers).
_owned = False
_access_json = True
_access_logger = logging.getLogger("einvoice.access")


def access(fields: dict[str, Any]) -> None:
    """The access log's line for a request answered: `fields` (method, route, status,
    duration_ms) beside the request's id and caller, as `einvoice.access` at INFO."""
    if not _owned:
        _access_logger.info("request", extra=fields)
        return
    line: dict[str, Any] = {
        "time": _time(time.time()),
        "level": "INFO",
        "logger": "einvoice.access",
        "message": "request",
    }
    _add_request(line)
    line.update(fields)
    _buffer.add(orjson.dumps(line).decode() if _access_json else _text_line(line))


def configure(log_format: LogFormat, level: str = "INFO") -> None:
    """Every log record of this process, to stderr, in `log_format`. Calling it again (an app
    factory run again) replaces its own handler rather than doubling the lines. Like
    `logging.basicConfig`, it leaves alone a process whose logging someone else set up (pytest's
    handlers, an embedding program's): their handlers get the records."""
    global _owned, _access_json
    root = logging.getLogger()
    if any(not isinstance(handler, _BufferedHandler) for handler in root.handlers):
        return
    _owned = True
    _access_json = log_format == "json"
    handler = _BufferedHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Fields no line writes, each looked up for every record otherwise (the access log writes one
    # per request): the thread's and process's names.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.captureWarnings(True)  # a library's warning is a log line too, in the same format


def granian_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """granian's own logging (its start-up and worker messages) in the same format, to stderr.
    Its access log stays off: the service writes its own (api/observe.py)."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "einvoice",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"einvoice": {"()": formatter_path(log_format)}},
        "handlers": {"console": handler},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": level, "propagate": False},
            "granian.access": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }
