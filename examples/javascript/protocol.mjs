// The e-invoice protocol in a few functions, on well-kept npm packages:
//
//   canonicalize (RFC 8785, JSON Canonicalization Scheme)  the bytes a seller signs and hashes
//   jose                                                    the detached JWS and the token
//   uuid                                                    a notice's id (UUID 5)
//
// Copy this file into your accounting software; client.mjs shows it at work. The walk-through is
// docs/integration.md, the details docs/signing.md.

import { createHash } from 'node:crypto';

import canonicalize from 'canonicalize';
import { CompactSign, importPKCS8, jwtVerify } from 'jose';
import { v5 as uuidv5 } from 'uuid';

/** The authority's name in every token (`iss`), under which it publishes its keys. */
export const ISSUER = 'https://einvoice.gdt.gov.vn';

/** The algorithms the authority signs tokens with: ES256 by default; its key ring may also hold
 * Ed25519 (EdDSA) and RSA (PS256) keys (docs/signing.md, "Key ring"). Each JWK in the set names
 * its own `alg`, and jose only ever uses a key for that algorithm. */
export const TOKEN_ALGORITHMS = ['ES256', 'EdDSA', 'PS256'];

/** The namespace of notice ids: id = UUID 5 of `<seller tax code>:<notice hash>`. */
export const NOTICE_NAMESPACE = '6f0c3a52-4d7e-5b1a-9c3e-04000000f404';

/**
 * The canonical bytes of an invoice (or a notice): RFC 8785 of the object, UTF-8.
 *
 * Sign and hash exactly the object you send as `invoice`: the service canonicalises what it
 * receives, so member order and whitespace in your request do not matter, but every value does.
 * Amounts are decimal strings and the only numbers are small integers, so JavaScript's numbers
 * lose nothing here.
 */
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}

/** SHA-256, lower-case hex: of the canonical bytes, this is the `invoice_hash` the service
 * answers and the token carries. */
export function sha256Hex(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A seller's private key from PKCS#8 PEM, for one algorithm: 'EdDSA' for Ed25519, 'RS256',
 * 'PS256' or 'ES256'. It must be the key whose public half is registered under `kid`, with the
 * same algorithm.
 */
export async function importSellerKey(pem, alg) {
  return importPKCS8(pem, alg);
}

/**
 * The seller's signature: a detached JWS (RFC 7515, appendix F) over the canonical bytes,
 * `BASE64URL(header) + '..' + BASE64URL(signature)`.
 *
 * jose makes the ordinary compact JWS `header.payload.signature`, whose signature covers
 * `header.payload`; leaving the payload part out makes it detached, and the service puts the
 * canonical bytes of the invoice it received back in to verify. (Do not use jose's
 * `{ b64: false }`: that is RFC 7797's unencoded payload, which the service refuses, as it
 * refuses `crit`.)
 *
 * The protected header is `{"alg", "kid"}` and nothing else is needed (`typ` is allowed). jose
 * writes it as JSON.stringify of the object given, so its members come out in that order: `alg`
 * then `kid` gives the same bytes as the test vectors.
 */
export async function signDetached(canonical, key, { alg, kid }) {
  const jws = await new CompactSign(canonical).setProtectedHeader({ alg, kid }).sign(key);
  const [header, , signature] = jws.split('.');
  return `${header}..${signature}`;
}

/**
 * Verify an authority token (a JWT) with the authority's keys, and return its claims.
 *
 * `keys` is what jose's createLocalJWKSet or createRemoteJWKSet returns for the JWK Set the
 * service publishes at /.well-known/jwks.json. The issuer is pinned; tokens have no `exp` on
 * purpose (an authenticated invoice stays authenticated), so none is required. Whether the
 * invoice has since been replaced or cancelled is what POST /v1/verify answers, not the token.
 */
export async function verifyAuthorityToken(token, keys) {
  const { payload } = await jwtVerify(token, keys, {
    issuer: ISSUER,
    algorithms: TOKEN_ALGORITHMS,
    requiredClaims: ['code', 'invoice_hash', 'seller_tax_code', 'iat'],
  });
  return payload;
}

/** The id the service gives a notice (Form 04/SS-HĐĐT): UUID 5 of
 * `<seller tax code>:<SHA-256 hex of the notice's canonical bytes>`. */
export function noticeId(sellerTaxCode, noticeHash) {
  return uuidv5(`${sellerTaxCode}:${noticeHash}`, NOTICE_NAMESPACE);
}

/** Today's date in Vietnam (UTC+7 all year, no daylight saving), YYYY-MM-DD: an invoice's
 * `issued_date` is a Vietnamese calendar date, and the seller's key must be valid on it. */
export function vietnamToday(now = new Date()) {
  return new Date(now.getTime() + 7 * 60 * 60 * 1000).toISOString().slice(0, 10);
}
