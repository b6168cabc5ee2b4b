"""PostgreSQL for the local stack: Debian's server binaries, our own data folder, loopback only.

A server already answering at the configured address is used as it is (and never stopped by
`down`). Otherwise the stack installs Debian's `postgresql` package when it is missing, creates a
cluster in `<stack_dir>/postgres` and runs it as the `postgres` user (PostgreSQL refuses root), then
creates the service's role and database with the configured password.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import signal
import subprocess
from pathlib import Path

import asyncpg

from devstack.process import StackError
from devstack.server import LocalServer
from devstack.settings import StackSettings
from devstack.system import ensure_debian_packages, say
from einvoice.config import Settings

_SERVER_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian keeps them side by side)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


class PostgresServer(LocalServer):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients and checkpoints. SIGTERM
    # ("smart") would wait for every client (a pool left open elsewhere) to go away first.
    stop_signal = signal.SIGINT

    def __init__(self, settings: Settings, stack: StackSettings) -> None:
        super().__init__(settings, stack, settings.postgres_host, settings.postgres_port)
        self._locate()

    def _locate(self) -> None:
        self.home = self._home(self.stack.stack_dir)
        self.data_dir = self.home / "data"
        self.socket_dir = self.home / "socket"

    @staticmethod
    def _home(stack_dir: Path) -> Path:
        # The server runs as `postgres`, which must be able to reach its folder. A checkout in a
        # folder only root may enter (such as /root) gets its cluster under /var/lib instead.
        home = stack_dir / "postgres"
        if os.geteuid() != 0 or _reachable_by(_SERVER_USER, stack_dir):
            return home
        digest = hashlib.sha256(str(stack_dir).encode()).hexdigest()[:12]
        return Path("/var/lib/einvoice-stack") / digest / "postgres"

    # -- up -------------------------------------------------------------------------------------

    def start(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            ensure_debian_packages(["postgresql"], why="The local PostgreSQL server")
            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise StackError("postgres: the postgresql package installed no server binaries")
            self._locate()  # the package has just created the `postgres` user
            self._stop_the_packages_own_cluster()
        as_user = _SERVER_USER if os.geteuid() == 0 else None
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, as_user)
        argv = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            # Sized for a shared 2-core box; the registry is small and hot in memory.
            "-c",
            "shared_buffers=128MB",
            "-c",
            "max_connections=200",
        ]
        say(f"postgres: starting from {bin_dir}; log {self.process.log_file}")
        self.process.start(argv, user=as_user, cwd=Path("/"))

    def _stop_the_packages_own_cluster(self) -> None:
        # Debian's package creates a cluster "main" and, where services may start, starts it on
        # port 5432. We installed it just now for our own cluster, so that one is stopped again
        # if it holds our port (left in place, it would be taken for someone else's server).
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
        )
        for line in listing.stdout.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[2] == str(self.port) and fields[3] == "online":
                say(f"postgres: stopping the package's own cluster {fields[0]}/{fields[1]}")
                subprocess.run(["pg_ctlcluster", fields[0], fields[1], "stop"], check=False)

    def after_ready(self) -> None:
        bin_dir = find_bin_dir()
        assert bin_dir is not None  # our server runs, so its binaries are installed
        self._create_role_and_database(bin_dir, _SERVER_USER if os.geteuid() == 0 else None)

    def _initdb(self, bin_dir: Path, as_user: str | None) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for folder in (self.data_dir, self.socket_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            if as_user is not None:
                entry = pwd.getpwnam(as_user)
                os.chown(folder, entry.pw_uid, entry.pw_gid)
        # Local socket connections by the server's own OS user (peer) create the role below;
        # TCP connections need the role's password.
        _run_as(
            as_user,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                _SERVER_USER,
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )

    def _create_role_and_database(self, bin_dir: Path, as_user: str | None) -> None:
        user = self.settings.postgres_user
        database = self.settings.postgres_database
        password = self.settings.postgres_password.get_secret_value().replace("'", "''")
        # CREATEDB lets the test suite make throw-away databases for isolated tests.
        # The names are validated identifiers (einvoice.config) and the password is quoted.
        script = f"""
SELECT format('CREATE ROLE %I LOGIN CREATEDB', '{user}')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') \\gexec
ALTER ROLE "{user}" WITH LOGIN CREATEDB PASSWORD '{password}';
SELECT format('CREATE DATABASE %I OWNER %I', '{database}', '{user}')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}') \\gexec
"""  # noqa: S608
        _run_as(
            as_user,
            [
                str(bin_dir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                _SERVER_USER,
                "-d",
                "postgres",
            ],
            "creating the service's role and database",
            stdin=script,
        )

    def check_existing(self) -> None:
        problem = self._login_problem()
        if problem is not None:
            raise StackError(
                f"postgres: a server at {self.host}:{self.port} is not ours and does not accept "
                f"the configured login ({problem}). Give it the role and database of "
                "EINVOICE_POSTGRES_USER/_PASSWORD/_DATABASE, stop it, or set "
                "EINVOICE_POSTGRES_PORT to a free port for the stack's own server."
            )

    def _login_problem(self) -> str | None:
        async def attempt() -> None:
            connection = await asyncpg.connect(
                host=self.host,
                port=self.port,
                user=self.settings.postgres_user,
                password=self.settings.postgres_password.get_secret_value(),
                database=self.settings.postgres_database,
                timeout=5,
            )
            await connection.close()

        try:
            asyncio.run(attempt())
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            return f"{type(error).__name__}: {error}"
        return None


def _reachable_by(user: str, folder: Path) -> bool:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return True  # no such user yet: the package install creates it; /work-style paths are fine
    result = subprocess.run(
        ["test", "-x", str(folder.parent)], user=entry.pw_uid, check=False, capture_output=True
    )
    return result.returncode == 0


def _run_as(user: str | None, argv: list[str], what: str, stdin: str | None = None) -> None:
    result = subprocess.run(
        argv,
        user=user,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",  # the server user may not be allowed into our working folder
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise StackError(f"postgres: {what} failed (exit {result.returncode}):\n{tail}")
