"""Log lines as JSON with the request's id and who made it; request ids kept only when sane."""

from __future__ import annotations

import datetime as dt
import logging
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from einvoice import logs
from einvoice.logs import JsonFormatter, TextFormatter
from einvoice.request_context import RequestContext, accepted_request_id, current, request_id


def _record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("einvoice.test")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, message, args or ("world",), None, extra=extra
    )


def test_a_line_is_one_json_object_with_the_requests_id_and_caller() -> None:
    token = current.set(RequestContext("req-1", client_id="client-9", seller="0100109106"))
    try:
        line = JsonFormatter().format(_record(route="/v1/invoices/{code}", status=200))
    finally:
        current.reset(token)

    fields = orjson.loads(line)
    assert "\n" not in line
    assert fields["message"] == "hello world"
    assert fields["level"] == "INFO"
    assert fields["logger"] == "einvoice.test"
    assert fields["request_id"] == "req-1"
    assert fields["client_id"] == "client-9"
    assert fields["seller"] == "0100109106"
    assert fields["route"] == "/v1/invoices/{code}"
    assert fields["status"] == 200
    written = dt.datetime.fromisoformat(fields["time"])
    assert written.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - written).total_seconds()) < 60
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", fields["time"])


def test_outside_a_request_a_line_has_no_request_members() -> None:
    fields = orjson.loads(JsonFormatter().format(_record()))

    assert not {"request_id", "client_id", "seller"} & set(fields)
    assert request_id() is None


def test_a_traceback_is_one_member_and_unknown_values_are_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record(path=re.compile("x"))
        record.exc_info = sys.exc_info()

    fields = orjson.loads(JsonFormatter().format(record))

    assert "ValueError: boom" in fields["exception"]
    assert isinstance(fields["path"], str)


def test_the_text_format_has_the_same_fields_on_one_line() -> None:
    token = current.set(RequestContext("req-2"))
    try:
        line = TextFormatter().format(_record(status=404))
    finally:
        current.reset(token)

    assert "INFO einvoice.test hello world" in line
    assert "request_id=req-2" in line
    assert "status=404" in line


@given(st.binary(max_size=200))
def test_a_request_id_is_kept_only_when_sane(sent: bytes) -> None:
    answered = accepted_request_id(sent)

    assert re.fullmatch(r"[A-Za-z0-9._:+/=-]{1,128}", answered)
    if answered != sent.decode("latin-1"):
        assert re.fullmatch(r"[0-9a-f]{32}", answered)


def test_new_request_ids_differ() -> None:
    assert len({accepted_request_id(None) for _ in range(1000)}) == 1000


def test_the_access_line_carries_the_request_and_is_written_on_flush(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_owned", True)  # as in a service; pytest owns this one's logging
    logs.flush()
    capsys.readouterr()
    token = current.set(RequestContext("req-3", client_id="client-1", seller="0100109106"))
    try:
        logs.access({"method": "GET", "route": "/healthz", "status": 200, "duration_ms": 0.5})
    finally:
        current.reset(token)
    logs.flush()

    (line,) = capsys.readouterr().err.splitlines()
    fields = orjson.loads(line)
    assert fields["logger"] == "einvoice.access"
    assert fields["request_id"] == "req-3"
    assert fields["client_id"] == "client-1"
    assert fields["route"] == "/healthz"
    assert fields["status"] == 200


def test_lines_wait_in_the_buffer_until_flushed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    buffer = logs.LineBuffer()
    buffer.add("first")
    buffer.add("second")
    waiting = capsys.readouterr().err

    buffer.flush()

    # Written together, once (the flusher thread may have done it first on a slow machine).
    assert waiting + capsys.readouterr().err == "first\nsecond\n"


def test_logging_someone_else_set_up_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    before = list(logging.getLogger().handlers)

    logs.configure("json")
    with caplog.at_level(logging.INFO):
        logs.access({"route": "/healthz", "status": 200})

    assert logging.getLogger().handlers == before
    (record,) = [r for r in caplog.records if r.name == "einvoice.access"]
    assert record.__dict__["route"] == "/healthz"
