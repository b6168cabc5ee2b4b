-- schema-version: 4
-- compatible-from: 3
-- The audit log of admin actions, and both audit logs (officer_reads, admin_actions) made
-- append-only.
--
-- Options and why:
-- * admin_actions: one row per action an admin asked of the admin API, who (the admin's client
--   id), what (`action`, a stable name such as `key.revoke`), to what (`target`: a tax code,
--   `<tax code>/<kid>` or a client id), when, and how it ended (`status`, the HTTP status
--   answered, and `error_code` from the error catalogue when it failed). `detail` holds the
--   values that matter beyond the target (a new status, a new client's role), never a secret.
--   Like officer_reads: a bigint identity key, a BRIN index on time, no foreign keys.
-- * A successful action's row is written in the same transaction as its change
--   (einvoice/registry/admin.py), so no change commits without its row.
-- * Append-only, in two layers. Privileges: UPDATE, DELETE and TRUNCATE on both tables are
--   revoked from PUBLIC and from every role that holds them other than the owner (a deployment's
--   service role, given table rights by default privileges: compose.yaml). Triggers: any UPDATE,
--   DELETE or TRUNCATE raises, whoever runs it, the owner included; only the owner can drop or
--   disable them, and a superuser bypass them. In compose the service logs in as a role that owns
--   nothing; on the local stack it owns the tables, so there the triggers are what refuses.
-- * Code at version 3 runs against this schema unchanged (it only inserts officer_reads rows).

CREATE TABLE admin_actions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id  uuid NOT NULL,
    acted_at   timestamptz NOT NULL DEFAULT now(),
    action     text NOT NULL CHECK (length(action) BETWEEN 1 AND 50),
    target     text NOT NULL CHECK (length(target) <= 300),
    status     smallint NOT NULL CHECK (status BETWEEN 100 AND 599),
    error_code text CHECK (length(error_code) BETWEEN 1 AND 50),
    detail     jsonb
);
CREATE INDEX admin_actions_by_time ON admin_actions USING brin (acted_at);
CREATE INDEX admin_actions_by_client ON admin_actions (client_id, acted_at);
CREATE INDEX admin_actions_by_target ON admin_actions (target, acted_at);

CREATE FUNCTION audit_rows_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are an audit log: they are never changed or removed', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER officer_reads_append_only BEFORE UPDATE OR DELETE ON officer_reads
    FOR EACH ROW EXECUTE FUNCTION audit_rows_are_immutable();
CREATE TRIGGER officer_reads_no_truncate BEFORE TRUNCATE ON officer_reads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_rows_are_immutable();
CREATE TRIGGER admin_actions_append_only BEFORE UPDATE OR DELETE ON admin_actions
    FOR EACH ROW EXECUTE FUNCTION audit_rows_are_immutable();
CREATE TRIGGER admin_actions_no_truncate BEFORE TRUNCATE ON admin_actions
    FOR EACH STATEMENT EXECUTE FUNCTION audit_rows_are_immutable();

REVOKE UPDATE, DELETE, TRUNCATE ON officer_reads, admin_actions FROM PUBLIC;

-- Every other role holding one of those rights on either table loses it (by name, as the
-- catalogue lists them: the migration does not know a deployment's role names).
DO $$
DECLARE
    held record;
BEGIN
    FOR held IN
        SELECT DISTINCT c.relname, acl.grantee::regrole::text AS grantee
        FROM pg_class c, aclexplode(c.relacl) acl
        WHERE c.oid IN ('officer_reads'::regclass, 'admin_actions'::regclass)
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
          AND acl.grantee NOT IN (0, c.relowner)
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %s', held.relname, held.grantee);
    END LOOP;
END $$;
