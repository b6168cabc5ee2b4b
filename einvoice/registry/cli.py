"""`einvoice taxpayer|key|client ...`: the registry from the command line.

These talk to PostgreSQL directly (through storage/), so they also serve to obtain the first
admin key of a new installation: `einvoice client add --role admin` on a machine that can reach
the database prints a key once. Changes notify every running service process, as the admin API's
do. (Demo data for newcomers and load tests is not the product's: `scripts/stack demo seed`.)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from einvoice.config import Settings
from einvoice.errors import ServiceError
from einvoice.registry import admin
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry

Operation = Callable[[Registry, argparse.Namespace], Awaitable[Any]]


def register(commands: Any) -> None:
    taxpayer = commands.add_parser("taxpayer", help="taxpayers of the registry")
    actions = taxpayer.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a taxpayer")
    add.add_argument("tax_code")
    add.add_argument("name")
    add.set_defaults(handler=_run(lambda r, a: admin.add_taxpayer(r, a.tax_code, a.name)))
    status = actions.add_parser("status", help="set active, suspended or closed")
    status.add_argument("tax_code")
    status.add_argument("status", choices=admin.STATUSES)
    status.set_defaults(handler=_run(lambda r, a: admin.set_status(r, a.tax_code, a.status)))
    buckets = actions.add_parser("buckets", help="raise a very large seller's month buckets")
    buckets.add_argument("tax_code")
    buckets.add_argument("month_buckets", type=int)
    buckets.set_defaults(
        handler=_run(lambda r, a: admin.raise_month_buckets(r, a.tax_code, a.month_buckets))
    )

    key = commands.add_parser("key", help="sellers' signing keys")
    actions = key.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a seller's public key (PEM or JWK file)")
    add.add_argument("tax_code")
    add.add_argument("kid")
    add.add_argument("public_key_file", type=Path)
    add.add_argument("--algorithm", choices=("RS256", "PS256", "ES256", "EdDSA", "Ed25519"))
    add.add_argument("--valid-from", type=dt.datetime.fromisoformat)
    add.add_argument("--valid-to", type=dt.datetime.fromisoformat)
    add.set_defaults(handler=_run(_add_key))
    revoke = actions.add_parser("revoke", help="revoke a seller's key")
    revoke.add_argument("tax_code")
    revoke.add_argument("kid")
    revoke.set_defaults(handler=_run(lambda r, a: r.revoke_key(a.tax_code, a.kid)))

    client = commands.add_parser("client", help="API clients")
    actions = client.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a client; its API key is printed once")
    add.add_argument("--role", required=True, choices=admin.ROLES)
    add.add_argument("--tax-code", help="the taxpayer a business client acts for")
    add.add_argument("--rate-limit-class", default="standard", choices=admin.RATE_LIMIT_CLASSES)
    add.set_defaults(
        handler=_run(lambda r, a: admin.add_client(r, a.role, a.tax_code, a.rate_limit_class))
    )
    revoke = actions.add_parser("revoke", help="revoke a client's API key")
    revoke.add_argument("client_id")
    revoke.set_defaults(handler=_run(lambda r, a: admin.revoke_client(r, a.client_id)))


async def _add_key(registry: Registry, args: argparse.Namespace) -> Any:
    text = args.public_key_file.read_text()
    material: str | dict[str, Any] = text if "-----BEGIN" in text else orjson.loads(text)
    return await admin.add_key(
        registry,
        args.tax_code,
        args.kid,
        material,
        algorithm=args.algorithm,
        valid_from=args.valid_from,
        valid_to=args.valid_to,
    )


def _run(operation: Operation) -> Callable[[argparse.Namespace, Settings], int]:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        async def main() -> Any:
            pool = await create_pool(settings)
            try:
                return await operation(Registry(pool), args)
            finally:
                await pool.close()

        try:
            result = asyncio.run(main())
        except ServiceError as error:
            for detail in error.details:
                print(f"{detail.code}: {detail.message}", file=sys.stderr)
            return 1
        print(_describe(result))
        return 0

    return handler


def _describe(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, admin.IssuedClient):
        return (
            f"client {result.client.id} ({result.client.role}); its API key, shown only now:\n"
            f"{result.api_key}"
        )
    fields = {
        k: (str(v) if not isinstance(v, dict | str | None) else v) for k, v in vars(result).items()
    }
    fields.pop("secret_hash", None)
    return orjson.dumps(fields).decode()
