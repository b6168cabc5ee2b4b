"""Demo registry: taxpayers with valid tax codes, a key pair each, and API clients.

`scripts/stack demo seed --taxpayers N` writes the private keys and API keys into a local,
git-ignored folder (`demo/` by default) for newcomers and the load tests. Demo material only: never
seed a production registry with it (which is why this lives in devstack/, outside the product).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from einvoice.invoice.taxcode import check_digit
from einvoice.registry import admin
from signing import jws
from storage.postgres.registry import Registry

# Most sellers sign with P-256; some with RSA and Ed25519, so every algorithm gets traffic.
_ALGORITHMS = ("ES256", "RS256", "EdDSA", "ES256", "ES256")
# Demo keys are valid from long ago, so sample invoices of any recent date verify.
DEMO_KEYS_VALID_FROM = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
# Province codes of the largest cities and a few others, for plausible tax codes.
_PROVINCES = ("01", "03", "02", "04", "05", "06", "07", "08", "09", "10", "11", "12")


def random_tax_code() -> str:
    while True:
        province = secrets.choice(_PROVINCES)
        first_nine = province + f"{secrets.randbelow(10**7):07d}"
        digit = check_digit(first_nine)
        if digit is not None and first_nine[2:] != "0000000":
            return first_nine + str(digit)


def _key_pair(alg: str) -> jws.PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, key: jws.PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


@dataclass(frozen=True)
class DemoSeller:
    tax_code: str
    kid: str
    algorithm: str
    private_key_path: Path
    public_jwk: dict[str, str]


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "registry.json"
    if path.exists():
        loaded: dict[str, Any] = orjson.loads(path.read_bytes())
        return loaded
    return {"admins": [], "officers": [], "sellers": []}


def save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / "registry.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


def make_sellers(count: int, folder: Path) -> list[DemoSeller]:
    """New tax codes and key pairs; the private keys are written to `<folder>/keys/`."""
    sellers = []
    for index in range(count):
        tax_code = random_tax_code()
        alg = _ALGORITHMS[index % len(_ALGORITHMS)]
        kid = f"{tax_code}-{alg.lower()}-1"
        private = _key_pair(alg)
        path = folder / "keys" / f"{kid}.pem"
        _write_private(path, private)
        sellers.append(DemoSeller(tax_code, kid, alg, path, jws.public_jwk(private.public_key())))
    return sellers


async def register(
    registry: Registry, manifest: dict[str, Any], sellers: list[DemoSeller]
) -> dict[str, Any]:
    """Register the sellers (and, the first time, an admin and an officer) in the manifest."""
    if not manifest["admins"]:
        for role, entry in (("admin", "admins"), ("officer", "officers")):
            issued = await admin.add_client(registry, role, None)
            manifest[entry].append({"client_id": str(issued.client.id), "api_key": issued.api_key})
    for seller in sellers:
        number = len(manifest["sellers"]) + 1
        await admin.add_taxpayer(registry, seller.tax_code, f"Công ty Demo số {number}")
        await admin.add_key(
            registry,
            seller.tax_code,
            seller.kid,
            seller.public_jwk,
            algorithm=seller.algorithm,
            valid_from=DEMO_KEYS_VALID_FROM,
        )
        issued = await admin.add_client(registry, "business", seller.tax_code)
        manifest["sellers"].append(
            {
                "tax_code": seller.tax_code,
                "kid": seller.kid,
                "algorithm": seller.algorithm,
                "private_key": str(seller.private_key_path),
                "client_id": str(issued.client.id),
                "api_key": issued.api_key,
            }
        )
    return manifest


async def seed(registry: Registry, folder: Path, taxpayers: int, *, if_missing: bool) -> str:
    """Add `taxpayers` demo sellers to the manifest in `folder` and to the registry; what was done.

    With `if_missing`, nothing is added when the folder's demo is registered in this database
    already (start-up use). A manifest of an earlier database (the stack's data was wiped) is
    replaced by a new demo.
    """
    # Files first (keys, then the manifest after the database), off the event loop's concerns:
    # this is a command-line tool, nothing else runs on its loop.
    manifest = load_manifest(folder)
    if manifest["sellers"] and await registry.taxpayer(manifest["sellers"][0]["tax_code"]):
        if if_missing:
            return f"the demo in {folder / 'registry.json'} is registered already"
    elif manifest["sellers"]:
        manifest = {"admins": [], "officers": [], "sellers": []}
    sellers = make_sellers(taxpayers, folder)
    manifest = await register(registry, manifest, sellers)
    save_manifest(folder, manifest)
    return (
        f"{len(manifest['sellers'])} demo sellers in {folder / 'registry.json'} "
        f"(admin key: {manifest['admins'][0]['api_key']})"
    )
