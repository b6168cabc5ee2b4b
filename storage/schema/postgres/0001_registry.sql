-- schema-version: 1
-- The taxpayer registry: taxpayers, their signing keys, API clients and their roles, and the audit
-- log of officer reads. Small, hot tables read into each service process's memory; the hot path
-- never queries them per invoice.
--
-- Options and why:
-- * Tax codes are text (10 digits, or 13 with a "-NNN" branch): leading zeros matter.
-- * Status and role are constrained text, not enums: adding a value is a plain CHECK change.
-- * API client secrets are stored only as a hash (secret_hash); the key is shown once.
-- * officer_reads grows with every officer lookup: a bigint identity key, a BRIN index on time
--   (append-only, time-ordered), and no foreign key to keep inserts cheap.

CREATE TABLE taxpayers (
    tax_code      text PRIMARY KEY CHECK (tax_code ~ '^[0-9]{10}(-[0-9]{3})?$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seller_keys (
    tax_code   text NOT NULL REFERENCES taxpayers (tax_code),
    kid        text NOT NULL CHECK (length(kid) BETWEEN 1 AND 200),
    algorithm  text NOT NULL CHECK (algorithm IN ('RS256', 'PS256', 'ES256', 'EdDSA')),
    public_jwk jsonb NOT NULL,
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to   timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tax_code, kid),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE TABLE api_clients (
    id               uuid PRIMARY KEY,
    role             text NOT NULL CHECK (role IN ('business', 'officer', 'admin')),
    tax_code         text REFERENCES taxpayers (tax_code),
    secret_hash      bytea NOT NULL,
    rate_limit_class text NOT NULL DEFAULT 'standard',
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    -- A business client acts for exactly one taxpayer; officers and admins for none.
    CHECK ((role = 'business') = (tax_code IS NOT NULL))
);
CREATE INDEX api_clients_by_tax_code ON api_clients (tax_code) WHERE tax_code IS NOT NULL;

CREATE TABLE officer_reads (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id uuid NOT NULL,
    read_at   timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL,
    subject   text NOT NULL
);
CREATE INDEX officer_reads_by_time ON officer_reads USING brin (read_at);
CREATE INDEX officer_reads_by_client ON officer_reads (client_id, read_at);
