-- schema-version: 5
-- compatible-from: 4
-- Sellers' X.509 certificates (issue #16): the national XML invoice is signed with the seller's
-- certificate, and the service finds it among the seller's registered ones by the SHA-256
-- fingerprint of its DER bytes (KeyInfo carries the certificate itself).
--
-- Options and why:
-- * On seller_keys, not a table of its own: a certificate is a key with a kid, an algorithm, a
--   validity and a revocation like any other, and the same key also verifies the seller's JWS
--   (one key, both formats). public_jwk holds its public key as for every key.
-- * The DER bytes are kept, not only the fingerprint: officers and tools can read the
--   certificate back, and a CA chain check (the documented extension point) needs it.
-- * Unique per seller by fingerprint: one certificate, one kid, so KeyInfo names one key.
-- * Code of version 4 never reads these columns: compatible from 4.

ALTER TABLE seller_keys
    ADD COLUMN certificate        bytea,
    ADD COLUMN certificate_sha256 bytea,
    ADD CONSTRAINT seller_keys_certificate_pair
        CHECK ((certificate IS NULL) = (certificate_sha256 IS NULL)),
    ADD CONSTRAINT seller_keys_certificate_sha256_length
        CHECK (certificate_sha256 IS NULL OR length(certificate_sha256) = 32);

CREATE UNIQUE INDEX seller_keys_by_certificate
    ON seller_keys (tax_code, certificate_sha256) WHERE certificate_sha256 IS NOT NULL;
