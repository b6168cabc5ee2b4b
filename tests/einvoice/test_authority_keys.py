"""The authority's key files: created owner-only, refused at start-up when others can read them;
a key's certificate beside it, and the gauge of when each key expires."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from prometheus_client import REGISTRY

from einvoice.authority_keys import generate_key_file, load_keyring, record_expiry
from einvoice.cli import main
from signing.authority import dated_certificate

_GAUGE = "einvoice_authority_key_not_after_timestamp_seconds"


def test_a_new_key_and_its_folder_are_the_owners_only(tmp_path: Path) -> None:
    folder = tmp_path / "keys"

    path = generate_key_file(folder, "cqt-1")

    assert folder.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(load_keyring(folder, None).keys) == ["cqt-1"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = generate_key_file(tmp_path / "keys", "cqt-1")
    path.chmod(mode)

    with pytest.raises(PermissionError, match="chmod 600"):
        load_keyring(path.parent, None)


def test_a_key_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    path = generate_key_file(tmp_path / "keys", "cqt-1")
    path.parent.chmod(0o777)

    with pytest.raises(PermissionError, match="chmod 700"):
        load_keyring(path.parent, None)


def test_an_active_ed25519_key_is_refused_and_a_retired_one_kept(tmp_path: Path) -> None:
    """XML answers cannot be signed with Ed25519, so it may only be a retired key."""
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1")
    edwards = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / "old-ed.pem"
    path.write_bytes(edwards)
    path.chmod(0o600)

    with pytest.raises(ValueError, match="Ed25519"):
        load_keyring(folder, "old-ed")
    assert sorted(load_keyring(folder, "cqt-1").keys) == ["cqt-1", "old-ed"]


def _generate(folder: Path, *options: str) -> int:
    return main(["authority-key", "generate", "--kid", "cqt-1", "--dir", str(folder), *options])


def test_generate_with_valid_days_writes_a_certificate_valid_that_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "keys"
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    assert _generate(folder, "--valid-days", "90") == 0

    after = dt.datetime.now(dt.UTC)
    path = folder / "cqt-1.crt"
    assert path.stat().st_mode & 0o777 == 0o600
    assert str(path) in capsys.readouterr().out
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    assert before <= certificate.not_valid_before_utc <= after
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == dt.timedelta(
        days=90
    )
    keyring = load_keyring(folder, None)
    assert keyring.active.certificate == certificate
    assert keyring.active.not_after == certificate.not_valid_after_utc


def test_generate_without_valid_days_writes_the_key_only(tmp_path: Path) -> None:
    folder = tmp_path / "keys"

    assert _generate(folder) == 0

    assert sorted(path.name for path in folder.iterdir()) == ["cqt-1.pem"]
    assert load_keyring(folder, None).active.not_after.year == 2100


def test_generate_never_overwrites_a_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    (folder / "cqt-1.crt").write_bytes(b"kept")

    assert _generate(folder, "--valid-days", "90") == 1

    assert "never overwritten" in capsys.readouterr().err
    assert (folder / "cqt-1.crt").read_bytes() == b"kept"
    assert not (folder / "cqt-1.pem").exists()


def test_generate_refuses_a_validity_under_a_day_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "keys"

    assert _generate(folder, "--valid-days", "0") == 1

    assert list(folder.iterdir()) == []


def test_loading_refuses_a_certificate_of_another_key(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1")
    other = dated_certificate(
        "cqt-1", ec.generate_private_key(ec.SECP256R1()), dt.datetime.now(dt.UTC), 30
    )
    (folder / "cqt-1.crt").write_bytes(other.public_bytes(serialization.Encoding.PEM))

    with pytest.raises(ValueError, match="another public key"):
        load_keyring(folder, None)


def test_loading_refuses_a_certificate_that_does_not_parse(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1")
    (folder / "cqt-1.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n")

    with pytest.raises(ValueError, match=r"not a PEM X\.509 certificate"):
        load_keyring(folder, None)


def test_a_certificate_others_can_write_is_refused_and_one_they_can_read_kept(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1", valid_days=30)
    path = folder / "cqt-1.crt"

    path.chmod(0o644)
    assert load_keyring(folder, None).active.certificate.not_valid_after_utc.year < 2100
    path.chmod(0o664)
    with pytest.raises(PermissionError, match="chmod 644"):
        load_keyring(folder, None)


def test_the_gauge_carries_each_keys_not_after_and_role(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1")
    generate_key_file(folder, "cqt-2", valid_days=30)
    keyring = load_keyring(folder, "cqt-2")

    record_expiry(keyring)

    active = REGISTRY.get_sample_value(_GAUGE, {"kid": "cqt-2", "role": "active"})
    retired = REGISTRY.get_sample_value(_GAUGE, {"kid": "cqt-1", "role": "retired"})
    assert active == keyring.active.not_after.timestamp()
    assert retired == dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()


def test_an_active_key_whose_certificate_expired_still_signs_and_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "keys"
    generate_key_file(folder, "cqt-1", valid_days=30)
    keyring = load_keyring(folder, None)

    with caplog.at_level(logging.WARNING, logger="einvoice.authority_keys"):
        record_expiry(keyring, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))

    assert "cqt-1 has a certificate that expired" in caplog.text
    assert keyring.verify_token(keyring.sign_token({"code": "x"})) == {"code": "x"}
