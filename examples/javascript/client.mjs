// Example client of the e-invoice authentication service, in two parts:
//
//   1. The test vectors (examples/vectors/), reproduced byte for byte with the functions of
//      protocol.mjs: canonical bytes, hash, the seller's detached JWS by Ed25519 and RS256, the
//      authority's token verified with its key set, and a notice's bytes, hash, id and signature.
//      Equal bytes mean your code does what the service does, before it talks to the service.
//   2. A fresh invoice signed, submitted to a running service, and the authority's token verified
//      against the keys the service publishes.
//
// Environment:
//   EINVOICE_URL              the service, e.g. http://127.0.0.1:8000
//   EINVOICE_API_KEY          a business API key of the seller
//   EINVOICE_SELLER_TAX_CODE  the seller, with the vectors' Ed25519 public key registered as
//                             kid "vector-ed25519" (never for a real taxpayer: its private key
//                             is published)
//   EINVOICE_INVOICE_NUMBER   a number this seller has not used yet in series 1/C26TAA
//   EINVOICE_VECTORS          the vectors folder (default ../vectors)
//
// Prints what it does and, as its last line, one JSON object:
//   {"vectors":"ok","code":"...","invoice_hash":"...","status":201}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { createLocalJWKSet, createRemoteJWKSet } from 'jose';

import {
  canonicalBytes,
  importSellerKey,
  noticeId,
  sha256Hex,
  signDetached,
  verifyAuthorityToken,
  vietnamToday,
} from './protocol.mjs';

const SELLER_KEYS = {
  ed25519: { alg: 'EdDSA', kid: 'vector-ed25519', pem: 'seller-ed25519.pem' },
  rs256: { alg: 'RS256', kid: 'vector-rs256', pem: 'seller-rs256.pem' },
};
const REQUEST_TIMEOUT_MS = 30_000;

/** A failure this client explains itself (a vector that differs, the service's refusal): its
 * message is printed without a stack trace. */
class Failure extends Error {}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Failure(`${name} is not set`);
  return value;
}

// --- 1. The test vectors ----------------------------------------------------------------------

async function checkVectors(dir) {
  const bytes = (name) => readFile(join(dir, name));
  // The one-line files (hash, JWS, id) end with a newline; the canonical files have none.
  const line = async (name) => (await readFile(join(dir, name), 'utf8')).trim();
  const json = async (name) => JSON.parse(await readFile(join(dir, name), 'utf8'));
  const failures = [];
  const expect = (what, actual, expected) => {
    const same =
      actual instanceof Uint8Array ? Buffer.from(actual).equals(expected) : actual === expected;
    const text = (value) => (value instanceof Uint8Array ? Buffer.from(value).toString() : value);
    if (!same) failures.push(`${what}:\n  expected ${text(expected)}\n  got      ${text(actual)}`);
  };

  // The invoice: canonical bytes and hash.
  const invoice = await json('invoice.json');
  const canonical = canonicalBytes(invoice);
  expect('invoice.canonical.json', canonical, await bytes('invoice.canonical.json'));
  const hash = sha256Hex(canonical);
  expect('invoice.sha256', hash, await line('invoice.sha256'));

  // The seller's detached JWS, by each deterministic algorithm.
  for (const [name, { alg, kid, pem }] of Object.entries(SELLER_KEYS)) {
    const file = `invoice.signature-${name}.jws`;
    const expected = await line(file);
    // The protected header's JSON bytes first: they are signed too, so when they differ (member
    // order, spacing) the signature differs, and this says why.
    const header = Buffer.from(expected.split('.')[0], 'base64url').toString();
    expect(`${file} (protected header)`, JSON.stringify({ alg, kid }), header);
    const key = await importSellerKey(await readFile(join(dir, pem), 'utf8'), alg);
    expect(file, await signDetached(canonical, key, { alg, kid }), expected);
  }

  // The authority's token: verified offline with the published key set, claims as signed.
  const keys = createLocalJWKSet(await json('authority.jwks.json'));
  try {
    const claims = await verifyAuthorityToken(await line('token.jws'), keys);
    if (!isDeepStrictEqual(claims, await json('token.claims.json'))) {
      failures.push(`token.claims.json: the token's claims are ${JSON.stringify(claims)}`);
    }
    expect('token.jws (claim invoice_hash)', claims.invoice_hash, hash);
  } catch (error) {
    failures.push(`token.jws does not verify with authority.jwks.json: ${error.message}`);
  }

  // A notice: canonical bytes, hash, the id the service derives, the seller's signature.
  const notice = await json('notice.json');
  const noticeCanonical = canonicalBytes(notice);
  expect('notice.canonical.json', noticeCanonical, await bytes('notice.canonical.json'));
  const noticeHash = sha256Hex(noticeCanonical);
  expect('notice.sha256', noticeHash, await line('notice.sha256'));
  expect('notice.id', noticeId(notice.seller_tax_code, noticeHash), await line('notice.id'));
  const { alg, kid, pem } = SELLER_KEYS.ed25519;
  const key = await importSellerKey(await readFile(join(dir, pem), 'utf8'), alg);
  const noticeSignature = await signDetached(noticeCanonical, key, { alg, kid });
  const expectedNoticeSignature = await line('notice.signature-ed25519.jws');
  expect('notice.signature-ed25519.jws', noticeSignature, expectedNoticeSignature);

  if (failures.length) throw new Failure(`the vectors differ:\n${failures.join('\n')}`);
  console.log(`vectors: all reproduced (invoice_hash ${hash})`);
  return { invoice, key, alg, kid };
}

// --- 2. A fresh invoice, submitted ------------------------------------------------------------

async function submit({ url, apiKey, invoice, key, alg, kid }) {
  // Sign exactly the object you send: the service canonicalises the `invoice` it receives.
  const canonical = canonicalBytes(invoice);
  const hash = sha256Hex(canonical);
  const signature = await signDetached(canonical, key, { alg, kid });

  const response = await postInvoice(`${url}/v1/invoices`, apiKey, { invoice, signature });
  const text = await response.text();
  const answer = parseJson(text);
  // 201: authenticated now. 200: this very invoice was accepted before (a retry after a lost
  // answer gets the original answer). Anything else carries {"errors": [...]} (docs/errors.md).
  if (response.status !== 201 && response.status !== 200) {
    throw new Failure(`the service answered ${response.status}: ${text}`);
  }
  console.log(`submitted: ${response.status}, code ${answer.code}`);
  if (answer.invoice_hash !== hash) {
    throw new Failure(`the service hashed ${answer.invoice_hash}, we signed ${hash}`);
  }

  // The token, verified as a buyer or auditor would: with the key set the service publishes.
  // createRemoteJWKSet fetches it when needed and caches it, and fetches again for an unknown kid.
  const keys = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`), {
    timeoutDuration: REQUEST_TIMEOUT_MS,
  });
  const claims = await verifyAuthorityToken(answer.token, keys);
  if (claims.code !== answer.code || claims.invoice_hash !== hash) {
    throw new Failure(`the token's claims do not match the answer: ${JSON.stringify(claims)}`);
  }
  console.log(`token: verified with ${url}/.well-known/jwks.json, iss ${claims.iss}`);
  return { code: answer.code, invoice_hash: hash, status: response.status };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON (a proxy's error page, say): the status and text tell
  }
}

/** POST the submission, retrying what is safe to retry: a submission is idempotent (the same
 * invoice again gets 200 and the original answer, never a second code), so after a 429 or 503
 * (waiting their Retry-After) or a lost connection it may be sent again. */
async function postInvoice(endpoint, apiKey, body, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    let response;
    let seconds = 1;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if (attempt >= attempts) throw error;
      const reason = error.cause?.code ?? error.cause?.errors?.[0]?.code ?? error.message;
      console.log(`no answer (${reason}); sending again`);
    }
    if (response) {
      if ((response.status !== 429 && response.status !== 503) || attempt >= attempts) {
        return response;
      }
      seconds = Math.min(Number(response.headers.get('Retry-After')) || 1, 10);
      console.log(`${response.status}: sending again in ${seconds} s`);
      await response.body?.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const vectors =
    process.env.EINVOICE_VECTORS || fileURLToPath(new URL('../vectors', import.meta.url));
  const { invoice: sample, key, alg, kid } = await checkVectors(vectors);

  const number = Number(required('EINVOICE_INVOICE_NUMBER'));
  if (!Number.isSafeInteger(number)) throw new Failure('EINVOICE_INVOICE_NUMBER is not an integer');
  // The vectors' invoice, for this seller, under a fresh number, issued today in Vietnam. The
  // symbol's two digits are the issue date's year (C26TAA: 2026), so they follow the date.
  const issuedDate = vietnamToday();
  const invoice = {
    ...sample,
    seller: { ...sample.seller, tax_code: required('EINVOICE_SELLER_TAX_CODE') },
    symbol: sample.symbol.slice(0, 1) + issuedDate.slice(2, 4) + sample.symbol.slice(3),
    number,
    issued_date: issuedDate,
  };
  const submitted = await submit({
    url: required('EINVOICE_URL').replace(/\/+$/, ''),
    apiKey: required('EINVOICE_API_KEY'),
    invoice,
    key,
    alg,
    kid,
  });
  console.log(JSON.stringify({ vectors: 'ok', ...submitted }));
}

try {
  await main();
} catch (error) {
  // Anything else is printed whole, with its cause (a failed fetch says why in `cause`).
  if (error instanceof Failure) console.error(error.message);
  else console.error('error:', error);
  process.exitCode = 1;
}
