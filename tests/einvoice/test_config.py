"""Settings from the environment (pure: no servers)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from einvoice.config import Settings


def test_local_replication_is_simple_strategy_with_one_replica() -> None:
    assert Settings().cassandra_replication_map() == {
        "class": "SimpleStrategy",
        "replication_factor": "1",
    }


def test_cluster_replication_names_each_data_centre() -> None:
    settings = Settings(
        cassandra_replication="NetworkTopologyStrategy:hanoi=3,hcm=3",
        cassandra_local_dc="hanoi",
        cassandra_seller_homes="hanoi=00-49,hcm=50-99",
    )

    assert settings.cassandra_replication_map() == {
        "class": "NetworkTopologyStrategy",
        "hanoi": "3",
        "hcm": "3",
    }


@pytest.mark.parametrize("value", ["SimpleStrategy", "Simple:1", "NetworkTopologyStrategy:dc1"])
def test_malformed_replication_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(cassandra_replication=value)


def test_the_development_password_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production")

    Settings(
        environment="production",
        postgres_password=SecretStr("a-real-secret"),
        page_token_secret=SecretStr("another-real-secret"),
    )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EINVOICE_CASSANDRA_HOSTS", "10.0.0.1, 10.0.0.2")
    monkeypatch.setenv("EINVOICE_CASSANDRA_KEYSPACE", "einvoice_prod")

    settings = Settings()

    assert settings.cassandra_contact_points == ["10.0.0.1", "10.0.0.2"]
    assert settings.cassandra_keyspace == "einvoice_prod"


def test_keyspace_names_must_be_plain_identifiers() -> None:
    with pytest.raises(ValidationError):
        Settings(cassandra_keyspace="einvoice; DROP KEYSPACE x")
