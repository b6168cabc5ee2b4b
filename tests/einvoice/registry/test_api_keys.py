"""API keys: shape, hashing, and the same work for every kind of wrong key (pure)."""

from __future__ import annotations

import re

import pytest

from einvoice.registry.api_keys import (
    DUMMY_CLIENT_ID,
    new_api_key,
    secret_matches,
    split_api_key,
)


def test_a_new_key_names_its_client_and_only_its_hash_is_kept() -> None:
    key = new_api_key()

    client_id, secret, well_formed = split_api_key(key.api_key)

    assert re.fullmatch(r"einv_[0-9a-f]{32}_[A-Za-z0-9_-]{43}", key.api_key)
    assert well_formed
    assert client_id == key.client_id
    assert secret_matches(secret, key.secret_hash)
    assert secret.encode() not in key.secret_hash
    assert len(key.secret_hash) == 32


@pytest.mark.parametrize(
    "wrong", ["", "einv_", "Bearer x", "einv_" + "0" * 32 + "_short", "x" * 500]
)
def test_malformed_keys_are_checked_against_a_dummy(wrong: str) -> None:
    client_id, secret, well_formed = split_api_key(wrong)

    assert not well_formed
    assert client_id == DUMMY_CLIENT_ID
    assert not secret_matches(secret, new_api_key().secret_hash)


def test_another_clients_secret_does_not_match() -> None:
    first, second = new_api_key(), new_api_key()
    _, secret, _ = split_api_key(first.api_key)

    assert not secret_matches(secret, second.secret_hash)
