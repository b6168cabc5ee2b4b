"""The stack's failures say what to do and stop the command; it never starts over a stranger."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import devstack
from devstack.cassandra import CassandraNode
from devstack.process import StackError
from devstack.redis import RedisServer
from devstack.settings import StackSettings
from einvoice.config import Settings
from tests.support import free_port


@pytest.fixture
def stranger_port() -> Iterator[int]:
    """A port held by a program that speaks no protocol of ours."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_port_taken_by_another_program_is_a_clear_error(
    base_settings: Settings, stranger_port: int, tmp_path: Path
) -> None:
    settings = base_settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{stranger_port}/0"}
    )

    with pytest.raises(StackError, match=f"port {stranger_port}.*EINVOICE_REDIS_URL"):
        RedisServer(settings, StackSettings(stack_dir=tmp_path)).up()


def test_a_missing_java_without_apt_is_a_clear_error(
    base_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with neither java nor apt-get on it
    node = CassandraNode(base_settings, StackSettings(stack_dir=tmp_path))

    with pytest.raises(StackError, match=r"needs the Debian packages 'openjdk-17.*no apt-get"):
        node._java()


def test_a_missing_maven_without_apt_is_a_clear_error(
    base_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    node = CassandraNode(base_settings, StackSettings(stack_dir=tmp_path, cache_dir=tmp_path))

    with pytest.raises(StackError, match=r"needs the Debian packages 'maven'.*no apt-get"):
        node.ensure_assembled()


def test_a_server_that_does_not_answer_in_time_is_a_clear_error_and_can_be_stopped(
    base_settings: Settings, tmp_path: Path, stack_up: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real Redis on a free port, whose answer the stack never sees (Redis is faster than any
    # timeout we could set, so its readiness probe is made to fail).
    settings = base_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    stack_settings = StackSettings(stack_dir=tmp_path, stack_start_timeout_s=1.0)
    server = RedisServer(settings, stack_settings)
    monkeypatch.setattr(server, "serves", lambda: False)
    try:
        with pytest.raises(StackError, match=r"no answer .* within 1 s"):
            server.up()
    finally:
        stopped = devstack.down(settings, ["redis"], stack_settings)
    assert stopped == ["redis"]
    assert server.process.running_pid() is None


def test_unknown_components_are_refused(base_settings: Settings) -> None:
    with pytest.raises(StackError, match="unknown component"):
        devstack.servers(base_settings, ["mysql"])
