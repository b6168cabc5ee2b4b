"""Redis for the local stack: Debian's `redis-server`, our own config and data, loopback only.

A server already answering at the configured URL is used as it is (and never stopped by `down`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import redis

from devstack.process import StackError
from devstack.server import LocalServer
from devstack.settings import StackSettings
from devstack.system import ensure_debian_packages, say
from einvoice.config import Settings


class RedisServer(LocalServer):
    name = "redis"

    def __init__(self, settings: Settings, stack: StackSettings) -> None:
        url = urlsplit(settings.redis_url)
        super().__init__(settings, stack, url.hostname or "127.0.0.1", url.port or 6379)
        self.home = stack.stack_dir / "redis"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            ensure_debian_packages(["redis-server"], why="The local Redis server")
            server = shutil.which("redis-server")
            if server is None:
                raise StackError("redis: the redis-server package installed no redis-server")
        conf = self._write_config()
        say(f"redis: starting; log {self.process.log_file}")
        self.process.start([server, str(conf)])

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        conf = self.home / "redis.conf"
        # The batch queue lives in Redis Streams, so Redis keeps an append-only file (fsync every
        # second); the batches themselves are durable in Cassandra before they are queued.
        conf.write_text(
            "\n".join(
                [
                    f"bind {self.host}",
                    f"port {self.port}",
                    "protected-mode yes",
                    "daemonize no",
                    f"dir {self.home}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    "maxmemory 1gb",
                    # The lookup cache is rebuilt from Cassandra; queue keys never expire, and
                    # volatile-lru evicts only keys with a TTL (cache entries) under pressure.
                    "maxmemory-policy volatile-lru",
                    "",
                ]
            )
        )
        return conf

    def serves(self) -> bool:
        """PONG, not only an open port: a restarted Redis listens while it loads its append-only
        file and answers LOADING to everything meanwhile (seconds with a big cache)."""
        try:
            client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:  # refused, LOADING (BusyLoadingError), timed out
            return False

    def check_existing(self) -> None:
        try:
            client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=3)
            client.ping()
            client.close()
        except redis.RedisError as error:
            raise StackError(
                f"redis: port {self.port} on {self.host} does not answer as Redis ({error}). "
                f"Stop the program there (see `ss -ltnp 'sport = :{self.port}'`) or set "
                "EINVOICE_REDIS_URL to a free port."
            ) from error
