"""The authority's key files: created owner-only, refused at start-up when others can read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from einvoice.authority_keys import generate_key_file, load_keyring


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
