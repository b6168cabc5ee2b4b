"""The authority's key files: generate one, load the ring from a folder.

Each key is a PEM file `<kid>.pem` (PKCS#8, mode 0600) in EINVOICE_AUTHORITY_KEYS_DIR. The active
key signs (EINVOICE_AUTHORITY_ACTIVE_KID, or the only key when there is one); every other key in
the folder is retired: still published in the JWKS so that tokens it signed keep verifying.
Private keys are never printed or logged; only key ids are. The folder is created owner-only
(0700), and loading refuses a key file or folder that others can read or write, as ssh does:
a private key that leaked through file modes is refused at start-up, not used.

A key may have its certificate beside it, `<kid>.crt` (PEM X.509, e.g. from the authority's CA,
or written by `generate --valid-days`): the JWKS's `x5c` and the XML signature's KeyInfo then
carry it, and its not-after is the key's expiry. Loading refuses one that does not parse, that is
not of the key's public key, or that has no key. An active key whose certificate has expired
still signs (refusing would stop the national service): the start-up log warns, and the gauge
below lets the alert `EinvoiceAuthorityKeyNearExpiry` (deploy/prometheus/alerts.yml) fire weeks
before (docs/signing.md, "Key ring").
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from prometheus_client import Gauge

from signing.authority import AuthorityKeyRing, dated_certificate, generate_private_key_pem

log = logging.getLogger(__name__)

# Set once per process when the runtime opens the ring. "max" (ignored in single-process mode):
# under prometheus_client's multiprocess mode a scrape aggregates every API process's value, the
# same date in each, and after a renewal the new certificate's later date wins over that of a
# process that has exited.
KEY_NOT_AFTER = Gauge(
    "einvoice_authority_key_not_after_timestamp_seconds",
    "When each authority key's certificate expires (Unix time); role: active or retired",
    ["kid", "role"],
    multiprocess_mode="max",
)


def generate_key_file(folder: Path, kid: str, valid_days: int | None = None) -> Path:
    """Write a new ES256 private key as `<folder>/<kid>.pem`, readable by its owner only; with
    `valid_days`, also its self-signed certificate `<kid>.crt`, valid from now for that many days.
    Neither file is ever overwritten."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # mkdir's mode is masked by the umask, and an existing folder keeps its own
    path = folder / f"{kid}.pem"
    certificate_path = path.with_suffix(".crt")
    for existing in (path, certificate_path):
        if existing.exists():
            raise FileExistsError(f"{existing} exists; authority keys are never overwritten")
    pem = generate_private_key_pem()
    certificate = None
    if valid_days is not None:  # built first, so a refused --valid-days leaves no file behind
        private_key = serialization.load_pem_private_key(pem, password=None)
        now = dt.datetime.now(dt.UTC)
        certificate = dated_certificate(kid, private_key, now, valid_days)  # type: ignore[arg-type]
    _write_new(path, pem)
    if certificate is not None:
        try:
            _write_new(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
        except BaseException:
            path.unlink()  # a key without its certificate would load as one that never expires
            raise
    return path


def load_keyring(folder: Path, active_kid: str | None) -> AuthorityKeyRing:
    paths = sorted(folder.glob("*.pem"))
    certificate_paths = sorted(folder.glob("*.crt"))
    for path in (folder, *paths):
        _refuse_open_modes(path)
    for path in certificate_paths:
        _refuse_open_modes(path, certificate=True)
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
    certificates = {path.stem: path.read_bytes() for path in certificate_paths}
    keyring = AuthorityKeyRing.from_pems(pems, active_kid, certificates)
    if keyring.active.alg == "EdDSA":
        # Refused at start-up rather than at the first XML invoice: XML Signature has no Ed25519
        # method that libxmlsec1 and the field's software share. A retired Ed25519 key is fine.
        raise ValueError(
            f"the active authority key {active_kid!r} is Ed25519, which cannot sign the XML "
            "answers (HDon): make a P-256 or RSA key the active one"
        )
    return keyring


def record_expiry(keyring: AuthorityKeyRing, now: dt.datetime | None = None) -> None:
    """Publish each key's not-after (KEY_NOT_AFTER) and warn when the active key's certificate
    has expired. Called once by the runtime, after loading the ring."""
    # This process's ring only, should it be opened again; in the API's multiprocess mode
    # (einvoice/metrics_server.py) a process opens it once, and clearing is not supported there.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        KEY_NOT_AFTER.clear()
    for key in keyring.keys.values():
        role = "active" if key is keyring.active else "retired"
        KEY_NOT_AFTER.labels(kid=key.kid, role=role).set(key.not_after.timestamp())
    now = now or dt.datetime.now(dt.UTC)
    if keyring.active.not_after <= now:
        log.warning(
            "the active authority key %s has a certificate that expired at %s: it still signs, "
            "but verifiers that check the certificate's dates may refuse its XML answers; "
            "rotate to a new key (docs/signing.md, Key ring)",
            keyring.active.kid,
            keyring.active.not_after.isoformat(),
        )


def _write_new(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


def _refuse_open_modes(path: Path, *, certificate: bool = False) -> None:
    """A key file readable or writable by others (or a folder others can write to) is refused;
    a certificate is public, so only one others can write to is."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if certificate:
        if mode & 0o022:
            raise PermissionError(
                f"{path} has mode {mode:04o}: only its owner may change an authority key's "
                f"certificate (chmod 644 {path})"
            )
        return
    open_bits = 0o022 if path.is_dir() else 0o077
    if mode & open_bits:
        raise PermissionError(
            f"{path} has mode {mode:04o}: authority keys must be the owner's only "
            f"(chmod {'700' if path.is_dir() else '600'} {path})"
        )
