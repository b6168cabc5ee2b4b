"""Configuration from the environment: one typed settings object for the API, workers and CLI.

Every variable is prefixed `EINVOICE_`; docs/configuration.md lists them all. Defaults describe the
local development stack (`scripts/stack up`; its own settings live outside the product, in
devstack/settings.py), so a newcomer needs to set nothing. Outside development the settings refuse
the development placeholders for secrets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from einvoice.datacentres import SellerHomes, claim_safety_problem, replication_datacentres

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Development placeholders: accepted only when EINVOICE_ENVIRONMENT=development.
DEV_POSTGRES_PASSWORD = "einvoice-dev"  # noqa: S105 - a documented local-only placeholder
DEV_PAGE_TOKEN_SECRET = "einvoice-dev-page-tokens"  # noqa: S105 - the same, for page tokens

# An http(s) URL of ASCII characters that JSON writes as they are, without a query, a fragment or
# a trailing slash (so that `<issuer>/.well-known/jwks.json` is the JWKS, and
# `<public_url>/?token=...` the lookup page).
_URL_CHAR = r"[A-Za-z0-9_.~%!$&'()*+,;=:@-]"
_ISSUER = rf"^https?://[A-Za-z0-9.-]+(:[0-9]{{1,5}})?(/({_URL_CHAR}|/)*{_URL_CHAR})?$"
_REPLICATION = re.compile(
    r"^(SimpleStrategy:\d+|NetworkTopologyStrategy:[\w.-]+=\d+(,[\w.-]+=\d+)*)$"
)


class Settings(BaseSettings):
    """All settings; see docs/configuration.md for the table."""

    model_config = SettingsConfigDict(env_prefix="EINVOICE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"

    # HTTP service.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    http_workers: int = Field(default=1, ge=1)
    # The server's connection limits and timeouts (einvoice/cli.py; why each: docs/security.md).
    http_backlog: int = Field(default=1024, ge=128)
    http_max_connections: int = Field(default=1024, ge=1)  # per worker, idle keep-alive included
    http_header_read_timeout_s: float = Field(default=15.0, ge=1, le=60)  # also the idle timeout
    # Per request (api/limits.py): the body must arrive within the read timeout and the whole
    # request end within the deadline; batch routes have their own pair.
    body_read_timeout_s: float = Field(default=5.0, gt=0)
    request_deadline_s: float = Field(default=10.0, gt=0)
    batch_body_read_timeout_s: float = Field(default=60.0, gt=0)
    batch_deadline_s: float = Field(default=120.0, gt=0)

    # Prometheus metrics, on their own port (einvoice/metrics_server.py): the API's processes
    # together, or one batch worker. Two processes on one machine need two ports (`scripts/start`
    # gives worker n the port + n); 0 turns them off. Loopback by default: open it to the scraper.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9100, ge=0, le=65535)

    # Logs (einvoice/logs.py): JSON lines on stderr, or `text` for a terminal; the API's access
    # log, one line per request (api/observe.py), is on unless turned off here.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True

    # Cassandra.
    cassandra_hosts: str = "127.0.0.1"  # comma-separated contact points
    cassandra_port: int = Field(default=9042, ge=1, le=65535)
    cassandra_keyspace: str = "einvoice"
    cassandra_local_dc: str = "datacenter1"
    # `SimpleStrategy:1` locally; `NetworkTopologyStrategy:dc1=3,dc2=3` on a cluster.
    cassandra_replication: str = "SimpleStrategy:1"
    # Where invoice numbers are decided when replicas span datacentres (einvoice/datacentres.py,
    # docs/datacentres.md): `local_serial` with every seller homed in one datacentre by its
    # tax-code prefix (`hanoi=00-49,hcmc=50-99`), or `serial` across all of them.
    cassandra_claim_consistency: Literal["local_serial", "serial"] = "local_serial"
    cassandra_seller_homes: str = ""
    cassandra_connect_timeout_s: float = Field(default=10.0, gt=0)
    cassandra_request_timeout_s: float = Field(default=5.0, gt=0)

    # PostgreSQL (the taxpayer registry).
    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "einvoice"
    postgres_password: SecretStr = SecretStr(DEV_POSTGRES_PASSWORD)
    postgres_database: str = "einvoice"
    postgres_pool_min: int = Field(default=1, ge=0)
    postgres_pool_max: int = Field(default=10, ge=1)
    # How long a call waits for a pooled connection, and for a statement's answer: well under a
    # request's deadline, so a hung PostgreSQL answers 503 rather than hanging
    # (storage/postgres/pool.py).
    postgres_acquire_timeout_s: float = Field(default=2.0, gt=0)
    postgres_query_timeout_s: float = Field(default=3.0, gt=0)
    # How long after it was read from PostgreSQL a registry entry may still be served when it
    # cannot be re-read (an outage); 0: never (docs/registry.md).
    registry_stale_s: float = Field(default=120.0, ge=0)

    # Redis (queue and lookup cache).
    redis_url: str = "redis://127.0.0.1:6379/0"

    # The authority: its signing keys (PEM files, see einvoice/authority_keys.py) and this node's
    # 2-hex-digit prefix of the codes it issues, distinct per node so nodes never coordinate.
    authority_keys_dir: Path = PROJECT_ROOT / ".stack" / "authority-keys"
    authority_active_kid: str | None = None
    code_prefix: str = Field(default="00", pattern=r"^[0-9A-F]{2}$")
    # The `iss` of every token (docs/signing.md): the authority's public base URL, under which
    # `/.well-known/jwks.json` serves its keys. Verifiers may pin it, so it never changes once
    # tokens carry it; stored tokens keep the one they were issued with.
    token_issuer: str = Field(
        default="https://einvoice.gdt.gov.vn",
        max_length=200,
        pattern=_ISSUER,
    )

    # Where the public lookup page (GET /) is served, as people reach it: every `verify_url`
    # (the real-time answer, the invoice view's QR code) is `<public_url>/?token=<token>`, so a
    # printed invoice can be checked with a phone. Not `token_issuer`: that names the authority in
    # its tokens and never changes; this is an address, which may (docs/configuration.md).
    # Unset: this service's own local address (`lookup_page_url`), right for development only.
    public_url: str | None = Field(default=None, max_length=200, pattern=_ISSUER)

    # Batches: size limits per batch, and how many queued batches make new ones wait (429).
    batch_max_lines: int = Field(default=10_000, ge=1)
    batch_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    batch_backlog_limit: int = Field(default=1000, ge=1)
    # A batch message unacknowledged this long (its worker died) is taken over by another worker.
    batch_claim_idle_s: float = Field(default=60.0, gt=0)
    # A batch whose processing raised this many times (backend outages not counted) is marked
    # `failed` instead of being retried for ever.
    batch_max_attempts: int = Field(default=5, ge=1)

    # Readiness probes give each backend this long to answer.
    readiness_timeout_s: float = Field(default=2.0, gt=0)

    # The HMAC key of the seller listing's page tokens (docs/lookup.md): one random secret for
    # every API process; changing it only makes outstanding page tokens invalid.
    page_token_secret: SecretStr = SecretStr(DEV_PAGE_TOKEN_SECRET)

    # Proxies (comma-separated CIDRs) whose X-Forwarded-For is believed when per-address limits
    # name the caller (api/client_address.py). Empty: the header is never believed, since anyone
    # can write it; the connection's peer is the caller.
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("cassandra_replication")
    @classmethod
    def _replication_is_well_formed(cls, value: str) -> str:
        if not _REPLICATION.match(value):
            raise ValueError(
                "expected 'SimpleStrategy:<rf>' or 'NetworkTopologyStrategy:<dc>=<rf>[,<dc>=<rf>]'"
            )
        return value

    @field_validator("cassandra_seller_homes")
    @classmethod
    def _homes_are_well_formed(cls, value: str) -> str:
        if value.strip():
            SellerHomes.parse(value)
        return value.strip()

    @field_validator("cassandra_keyspace", "postgres_database", "postgres_user")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,47}", value):
            raise ValueError("must be a lower-case identifier: [a-z][a-z0-9_]{0,47}")
        return value

    @model_validator(mode="after")
    def _claims_stay_unique(self) -> Settings:
        problem = claim_safety_problem(
            replication_datacentres(self.cassandra_replication_map()),
            self.cassandra_claim_consistency,
            self.seller_homes(),
            self.cassandra_local_dc,
        )
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_development(self) -> Settings:
        if (
            self.environment != "development"
            and self.postgres_password.get_secret_value() == DEV_POSTGRES_PASSWORD
        ):
            raise ValueError(
                "EINVOICE_POSTGRES_PASSWORD is the development placeholder; "
                "set a real secret outside development"
            )
        if (
            self.environment != "development"
            and self.page_token_secret.get_secret_value() == DEV_PAGE_TOKEN_SECRET
        ):
            raise ValueError(
                "EINVOICE_PAGE_TOKEN_SECRET is the development placeholder; "
                "set a real secret outside development"
            )
        return self

    @property
    def lookup_page_url(self) -> str:
        """The lookup page's base URL: EINVOICE_PUBLIC_URL, or this service's local address."""
        return self.public_url or f"http://127.0.0.1:{self.http_port}"

    @property
    def cassandra_contact_points(self) -> list[str]:
        return [host.strip() for host in self.cassandra_hosts.split(",") if host.strip()]

    def seller_homes(self) -> SellerHomes | None:
        """The home datacentre of each seller, when sellers are homed."""
        return (
            SellerHomes.parse(self.cassandra_seller_homes) if self.cassandra_seller_homes else None
        )

    def cassandra_replication_map(self) -> dict[str, str]:
        """The keyspace replication as CQL expects it, from `cassandra_replication`."""
        strategy, _, spec = self.cassandra_replication.partition(":")
        if strategy == "SimpleStrategy":
            return {"class": "SimpleStrategy", "replication_factor": spec}
        replication = {"class": "NetworkTopologyStrategy"}
        for item in spec.split(","):
            dc, _, factor = item.partition("=")
            replication[dc] = factor
        return replication


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
