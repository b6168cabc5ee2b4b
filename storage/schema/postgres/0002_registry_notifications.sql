-- schema-version: 2
-- Change notifications for the in-process registry caches of every service process.
--
-- Options and why:
-- * Any change to a taxpayer, a seller key or an API client (from the admin API, the CLI, or a
--   DBA's hand) sends NOTIFY on channel `einvoice_registry` with {"table", "key"}, key being the
--   tax code or the client id. Processes LISTEN and drop that entry at once, so a revoked key or a
--   suspended taxpayer stops working within a second; their caches also expire entries on their
--   own (docs/registry.md), which bounds the delay if a notification is ever missed.
-- * Triggers fire AFTER each row change; NOTIFY is sent when the transaction commits, never for a
--   rolled-back change.

CREATE FUNCTION registry_notify_tax_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('einvoice_registry', json_build_object(
        'table', TG_TABLE_NAME,
        'key', CASE WHEN TG_OP = 'DELETE' THEN OLD.tax_code ELSE NEW.tax_code END)::text);
    RETURN NULL;
END $$;

CREATE FUNCTION registry_notify_client() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('einvoice_registry', json_build_object(
        'table', TG_TABLE_NAME,
        'key', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER taxpayers_notify AFTER INSERT OR UPDATE OR DELETE ON taxpayers
    FOR EACH ROW EXECUTE FUNCTION registry_notify_tax_code();
CREATE TRIGGER seller_keys_notify AFTER INSERT OR UPDATE OR DELETE ON seller_keys
    FOR EACH ROW EXECUTE FUNCTION registry_notify_tax_code();
CREATE TRIGGER api_clients_notify AFTER INSERT OR UPDATE OR DELETE ON api_clients
    FOR EACH ROW EXECUTE FUNCTION registry_notify_client();
