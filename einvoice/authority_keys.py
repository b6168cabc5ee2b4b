"""The authority's key files: generate one, load the ring from a folder.

Each key is a PEM file `<kid>.pem` (PKCS#8, mode 0600) in EINVOICE_AUTHORITY_KEYS_DIR. The active
key signs (EINVOICE_AUTHORITY_ACTIVE_KID, or the only key when there is one); every other key in
the folder is retired: still published in the JWKS so that tokens it signed keep verifying.
Private keys are never printed or logged; only key ids are.
"""

from __future__ import annotations

import os
from pathlib import Path

from signing.authority import AuthorityKeyRing, generate_private_key_pem


def generate_key_file(folder: Path, kid: str) -> Path:
    """Write a new ES256 private key as `<folder>/<kid>.pem`, readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kid}.pem"
    if path.exists():
        raise FileExistsError(f"{path} exists; authority keys are never overwritten")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(generate_private_key_pem())
    return path


def load_keyring(folder: Path, active_kid: str | None) -> AuthorityKeyRing:
    pems = {path.stem: path.read_bytes() for path in sorted(folder.glob("*.pem"))}
    if not pems:
        raise ValueError(
            f"no authority keys in {folder}: create one with `einvoice authority-key generate`"
        )
    if active_kid is None:
        if len(pems) > 1:
            raise ValueError(
                f"{len(pems)} authority keys in {folder}: say which one signs with "
                "EINVOICE_AUTHORITY_ACTIVE_KID"
            )
        active_kid = next(iter(pems))
    return AuthorityKeyRing.from_pems(pems, active_kid)
