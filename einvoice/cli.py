"""The `einvoice` command: serve, run batch workers, migrate, manage the registry, send invoices.

einvoice serve                   the HTTP API (granian)
einvoice worker                  a batch ingest worker
einvoice migrate                 bring Cassandra and PostgreSQL to this code's schema
einvoice authority-key generate  a new authority signing key
einvoice taxpayer|key|client     the registry, straight in PostgreSQL (einvoice/registry/cli.py)
einvoice demo submit             a fresh invoice of a demo seller, signed, submitted and shown
einvoice batch submit FILE       an NDJSON file sent as batches; results in FILE.results.ndjson
einvoice loadtest run            a load test and its report (with the loadtest extra)
einvoice loadtest capacity       the highest rate of the national mix held, step by step

The local development stack is not the product's: `scripts/stack up|down|status` (devstack/).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from einvoice.config import Settings, get_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, get_settings())
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="einvoice", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="bind address (default EINVOICE_HTTP_HOST)")
    serve.add_argument("--port", type=int, help="port (default EINVOICE_HTTP_PORT)")
    serve.add_argument("--workers", type=int, help="processes (default EINVOICE_HTTP_WORKERS)")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run a batch ingest worker")
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply the Cassandra and PostgreSQL schemas")
    migrate.set_defaults(handler=_migrate)

    authority_key = commands.add_parser("authority-key", help="the authority's signing keys")
    key_commands = authority_key.add_subparsers(required=True, metavar="ACTION")
    generate = key_commands.add_parser("generate", help="write a new ES256 signing key")
    generate.add_argument("--kid", required=True, help="the key id, e.g. cqt-2026-01")
    generate.add_argument("--dir", type=Path, help="folder (default EINVOICE_AUTHORITY_KEYS_DIR)")
    generate.add_argument(
        "--valid-days",
        type=int,
        metavar="N",
        help="also write <kid>.crt, a self-signed certificate valid from now for N days",
    )
    generate.set_defaults(handler=_generate_authority_key)

    from einvoice.registry.cli import register
    from einvoice.service_client.cli import register as register_service_client

    register(commands)
    register_service_client(commands)
    _register_loadtest(commands)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from einvoice import logs, metrics_server

    # Before granian starts its workers, so that they and this process share the samples' folder
    # (einvoice/metrics_server.py); before anything here imports prometheus_client.
    metrics_server.use_multiprocess_dir()
    logs.configure(settings.log_format, settings.log_level)
    try:
        metrics_server.serve(settings)
    except OSError as error:
        print(
            f"einvoice serve: cannot serve metrics on {settings.metrics_host}:"
            f"{settings.metrics_port} ({error}); set EINVOICE_METRICS_PORT (0 turns them off)",
            file=sys.stderr,
        )
        return 1
    # granian, not uvicorn: 1.4x the requests per second on a bare endpoint here, with a lower
    # p99 (docs/asgi-server.md).
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    # Limits and timeouts chosen on purpose; docs/security.md says why each value.
    Granian(
        "api.app:create_app",
        factory=True,
        address=args.host or settings.http_host,
        port=args.port or settings.http_port,
        workers=args.workers or settings.http_workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        # HTTP/1.1 only: the proxy in front speaks it to us, and HTTP/2 would add a second
        # protocol's limits to get right (streams, header lists, windows) for nothing we use.
        http=HTTPModes.http1,
        websockets=False,
        backlog=settings.http_backlog,
        # Connections one worker holds open (a permit each, idle keep-alive ones included);
        # more wait in the kernel's backlog until one closes.
        backpressure=settings.http_max_connections,
        http1_settings=HTTP1Settings(
            # A request's headers must arrive within this, and an idle keep-alive connection is
            # closed after it (hyper uses the one timer for both).
            header_read_timeout=round(settings.http_header_read_timeout_s * 1000),
            keep_alive=True,
            # Bounds a request's header block (hyper answers 431 beyond it); ours are a few
            # hundred bytes. Bodies stream through in pieces of at most this size.
            max_buffer_size=64 * 1024,
        ),
        respawn_failed_workers=True,
        # Our own middleware writes the access log (api/observe.py), with the request id, route
        # template and client that granian's cannot know; granian's own lines in our format.
        log_access=False,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=logs.granian_config(settings.log_format, settings.log_level),
    ).serve()
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.worker import run

    return run(settings)


def _generate_authority_key(args: argparse.Namespace, settings: Settings) -> int:
    from einvoice.authority_keys import generate_key_file

    try:
        path = generate_key_file(args.dir or settings.authority_keys_dir, args.kid, args.valid_days)
    except (FileExistsError, ValueError) as error:
        print(f"einvoice authority-key generate: {error}", file=sys.stderr)
        return 1
    if args.valid_days is not None:
        print(f"wrote {path.with_suffix('.crt')} (mode 0600), valid {args.valid_days} days.")
    print(
        f"wrote {path} (mode 0600). The only key in its folder signs; with several, "
        f"EINVOICE_AUTHORITY_ACTIVE_KID={args.kid} makes it the one."
    )
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    import asyncpg
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    from storage.errors import SchemaError
    from storage.schema_versions import migrate_all

    started = time.monotonic()
    try:
        report = migrate_all(settings)
    except SchemaError as error:
        print(f"einvoice migrate: {error}", file=sys.stderr)
        return 1
    except (NoHostAvailable, DriverException, asyncpg.PostgresError, OSError) as error:
        print(
            f"einvoice migrate: a database did not answer or refused a statement: {error}\n"
            "Is the stack up (`scripts/stack status`)?",
            file=sys.stderr,
        )
        return 1
    for name, result in (("cassandra", report.cassandra), ("postgres", report.postgres)):
        applied = ", ".join(result.applied) or "nothing to apply"
        print(f"{name}: version {result.from_version or 'none'} -> {result.to_version} ({applied})")
    print(f"migrated in {time.monotonic() - started:.1f} s")
    return 0


def _register_loadtest(commands: Any) -> None:
    try:
        from loadtest.report import register
    except ImportError:  # the loadtest extra (locust, matplotlib) is not installed
        return
    register(commands)


if __name__ == "__main__":
    sys.exit(main())
