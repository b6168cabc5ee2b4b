"""The authority's key files: generate one, load the ring from a folder.

Each key is a PEM file `<kid>.pem` (PKCS#8, mode 0600) in EINVOICE_AUTHORITY_KEYS_DIR. The active
key signs (EINVOICE_AUTHORITY_ACTIVE_KID, or the only key when there is one); every other key in
the folder is retired: still published in the JWKS so that tokens it signed keep verifying.
Private keys are never printed or logged; only key ids are. The folder is created owner-only
(0700), and loading refuses a key file or folder that others can read or write, as ssh does:
a private key that leaked through file modes is refused at start-up, not used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from signing.authority import AuthorityKeyRing, generate_private_key_pem


def generate_key_file(folder: Path, kid: str) -> Path:
    """Write a new ES256 private key as `<folder>/<kid>.pem`, readable by its owner only."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is masked by the umask, and an existing folder keeps its own
    path = folder / f"{kid}.pem"
    if path.exists():
        raise FileExistsError(f"{path} exists; authority keys are never overwritten")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(generate_private_key_pem())
    return path


def load_keyring(folder: Path, active_kid: str | None) -> AuthorityKeyRing:
    paths = sorted(folder.glob("*.pem"))
    for path in (folder, *paths):
        _refuse_open_modes(path)
    pems = {path.stem: path.read_bytes() for path in paths}
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
    keyring = AuthorityKeyRing.from_pems(pems, active_kid)
    if keyring.active.alg == "EdDSA":
        # Refused at start-up rather than at the first XML invoice: XML Signature has no Ed25519
        # method that libxmlsec1 and the field's software share. A retired Ed25519 key is fine.
        raise ValueError(
            f"the active authority key {active_kid!r} is Ed25519, which cannot sign the XML "
            "answers (HDon): make a P-256 or RSA key the active one"
        )
    return keyring


def _refuse_open_modes(path: Path) -> None:
    """A key file readable or writable by others (or a folder others can write to) is refused."""
    mode = stat.S_IMODE(path.stat().st_mode)
    open_bits = 0o022 if path.is_dir() else 0o077
    if mode & open_bits:
        raise PermissionError(
            f"{path} has mode {mode:04o}: authority keys must be the owner's only "
            f"(chmod {'700' if path.is_dir() else '600'} {path})"
        )
