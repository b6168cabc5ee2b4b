//! The seller's detached JWS (RFC 7515 Appendix F) and the authority's token, on ring.
//!
//! Same readings as signing/seller.py and signing/authority.py; where this code is unsure (an
//! unusual header) it says `None` and the reference code decides. Both read base64url strictly
//! (RFC 7515 2: the URL-safe alphabet, no padding, no whitespace, zero unused bits: the `base64`
//! crate's `URL_SAFE_NO_PAD` engine refuses everything else, as signing/jws.py does), refuse a
//! header that repeats a member (serde's derived reader does, escaped spellings included), and
//! apply the same size limits before decoding anything.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

enum Verifier {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// A seller's registered public key, ready for verification (built once per registry load).
#[pyclass(frozen, module = "einvoice_core")]
pub struct CompiledKey {
    tax_code: String,
    algorithm: String,
    verifier: Verifier,
    valid_from: i64,
    valid_to: Option<i64>,
    revoked_at: Option<f64>,
}

#[pymethods]
impl CompiledKey {
    /// `public`: the RSA modulus, the uncompressed P-256 point or the raw Ed25519 key (all
    /// big-endian bytes); `exponent` for RSA only. Days are `date.toordinal()` in Vietnam.
    #[new]
    #[pyo3(signature = (tax_code, algorithm, public, exponent, valid_from, valid_to, revoked_at))]
    fn new(
        tax_code: String,
        algorithm: String,
        public: Vec<u8>,
        exponent: Option<Vec<u8>>,
        valid_from: i64,
        valid_to: Option<i64>,
        revoked_at: Option<f64>,
    ) -> PyResult<Self> {
        let verifier = match (algorithm.as_str(), exponent) {
            ("RS256" | "PS256", Some(e)) => {
                let bits =
                    public.len() * 8 - public.first().map_or(8, |b| b.leading_zeros() as usize);
                if !(2048..=8192).contains(&bits) {
                    return Err(PyValueError::new_err("RSA keys of 2048 to 8192 bits only"));
                }
                Verifier::Rsa { n: public, e }
            }
            ("ES256", None) if public.len() == 65 && public[0] == 4 => Verifier::Ec(public),
            ("EdDSA", None) if public.len() == 32 => Verifier::Ed25519(public),
            _ => {
                return Err(PyValueError::new_err(
                    "not a key the compiled path verifies",
                ))
            }
        };
        Ok(Self {
            tax_code,
            algorithm,
            verifier,
            valid_from,
            valid_to,
            revoked_at,
        })
    }
}

/// The longest protected header read, decoded (signing/jws.py `MAX_HEADER_BYTES`).
const MAX_HEADER_BYTES: usize = 2048;
/// The longest signature read, decoded (signing/jws.py `MAX_SIGNATURE_BYTES`).
const MAX_SIGNATURE_BYTES: usize = 2048;
/// The longest compact JWS read (signing/jws.py `MAX_COMPACT_CHARS`), checked before splitting.
const MAX_COMPACT_CHARS: usize = 8192;

/// Characters of the unpadded base64url of `bytes` bytes.
const fn b64_chars(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

// A repeated member is a serde error ("duplicate field"), so such a header is never read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    #[serde(default)]
    #[allow(dead_code)]
    typ: Option<String>,
}

/// The kid of a detached compact JWS, its encoded header and its signature bytes.
pub fn parse_detached(signature: &str) -> Option<(String, &[u8], Vec<u8>, String)> {
    if signature.len() > MAX_COMPACT_CHARS {
        return None;
    }
    let mut parts = signature.split('.');
    let (header_b64, payload, signature_b64) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !payload.is_empty() || header_b64.is_empty() {
        return None;
    }
    if header_b64.len() > b64_chars(MAX_HEADER_BYTES)
        || signature_b64.len() > b64_chars(MAX_SIGNATURE_BYTES)
    {
        return None;
    }
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).ok()?).ok()?;
    let raw_signature = URL_SAFE_NO_PAD.decode(signature_b64).ok()?;
    if raw_signature.is_empty() {
        return None;
    }
    Some((header.kid, header_b64.as_bytes(), raw_signature, header.alg))
}

impl CompiledKey {
    /// Whether this key verifies `signature` of `signing_input` under `alg` for this seller on
    /// `issued` (an ordinal day in Vietnam) at `now` (Unix seconds).
    pub fn accepts(
        &self,
        seller_tax_code: &str,
        alg: &str,
        issued: i64,
        now: f64,
        signing_input: &[u8],
        signature: &[u8],
    ) -> bool {
        // RFC 9864's name for EdDSA over Ed25519, the only curve taken (signing/jws.py).
        let alg = if alg == "Ed25519" { "EdDSA" } else { alg };
        if self.tax_code != seller_tax_code || self.algorithm != alg {
            return false;
        }
        // Within a second of its revocation the reference code, on the exact clock, decides.
        if self.revoked_at.is_some_and(|revoked| revoked <= now + 1.0) {
            return false;
        }
        if self.valid_from > issued || self.valid_to.is_some_and(|to| to < issued) {
            return false;
        }
        match (&self.verifier, alg) {
            (Verifier::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    signing_input,
                    signature,
                )
                .is_ok(),
            (Verifier::Rsa { n, e }, "PS256") => RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PSS_2048_8192_SHA256,
                    signing_input,
                    signature,
                )
                .is_ok(),
            (Verifier::Ec(point), "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signing_input, signature)
                    .is_ok()
            }
            (Verifier::Ed25519(key), "EdDSA") => UnparsedPublicKey::new(&signature::ED25519, key)
                .verify(signing_input, signature)
                .is_ok(),
            _ => false,
        }
    }
}

/// The authority's active ES256 key, signing tokens.
#[pyclass(frozen, module = "einvoice_core")]
pub struct TokenSigner {
    header_b64: Vec<u8>,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

#[pymethods]
impl TokenSigner {
    /// `header_b64`: the token's encoded protected header; the P-256 private scalar and the
    /// uncompressed public point, big-endian.
    #[new]
    fn new(header_b64: Vec<u8>, private_scalar: Vec<u8>, public_point: Vec<u8>) -> PyResult<Self> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &private_scalar,
            &public_point,
            &rng,
        )
        .map_err(|_| PyValueError::new_err("not a P-256 key pair"))?;
        debug_assert_eq!(key.public_key().as_ref(), public_point.as_slice());
        Ok(Self {
            header_b64,
            key,
            rng,
        })
    }

    fn __repr__(&self) -> String {
        "TokenSigner(ES256)".to_owned() // never key material
    }

    /// The compact JWS of `claims` (JSON bytes), signed with a fresh random nonce.
    #[pyo3(name = "sign_token")]
    fn sign_token_py(&self, claims: &[u8]) -> PyResult<String> {
        self.sign(claims)
            .ok_or_else(|| PyValueError::new_err("signing failed"))
    }

    /// ECDSA P-256 SHA-256 over `message`: r and s, 32 bytes each (the form of a JWS and of an
    /// XML Signature's SignatureValue).
    fn sign_message<'py>(&self, py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let signature = self
            .key
            .sign(&self.rng, message)
            .map_err(|_| PyValueError::new_err("signing failed"))?;
        Ok(PyBytes::new(py, signature.as_ref()))
    }
}

impl TokenSigner {
    /// The compact JWS of `claims` (JSON bytes).
    pub fn sign(&self, claims: &[u8]) -> Option<String> {
        let mut token = String::with_capacity(self.header_b64.len() + claims.len() * 4 / 3 + 100);
        token.push_str(std::str::from_utf8(&self.header_b64).ok()?);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = self.key.sign(&self.rng, token.as_bytes()).ok()?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Some(token)
    }

    pub fn random_bytes(&self, out: &mut [u8]) -> Option<()> {
        ring::rand::SecureRandom::fill(&self.rng, out).ok()
    }
}

pub fn b64url_into(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(
        start + base64::encoded_len(data.len(), false).unwrap_or(0),
        0,
    );
    let written = URL_SAFE_NO_PAD
        .encode_slice(data, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(data)
    }

    fn jws(header: &str, signature: &str) -> String {
        format!("{}..{signature}", b64(header.as_bytes()))
    }

    const HEADER: &str = r#"{"alg":"ES256","kid":"k1"}"#;

    #[test]
    fn a_plain_detached_jws_is_read() {
        let signature = jws(HEADER, "AAAA");
        let (kid, header_b64, raw, alg) = parse_detached(&signature).unwrap();
        assert_eq!(
            (kid.as_str(), alg.as_str(), raw.as_slice()),
            ("k1", "ES256", &[0u8; 3][..])
        );
        assert_eq!(header_b64, b64(HEADER.as_bytes()).as_bytes());
    }

    #[test]
    fn base64url_is_read_strictly() {
        let header = b64(HEADER.as_bytes());
        for signature in [
            "AAA=", "AA==", "AA A", "AA\nA", "AA+A", "AA/A", "AA.A", "A", "AAAAA", "AB", "AAB",
        ] {
            assert!(
                parse_detached(&format!("{header}..{signature}")).is_none(),
                "{signature}"
            );
        }
        for junk in ["=", " ", "\n", "+", "*"] {
            let bent = format!("{}{junk}{}..AAAA", &header[..4], &header[4..]);
            assert!(parse_detached(&bent).is_none(), "{junk:?}");
        }
        // Zero unused bits: "AA" and "AAA" are the canonical 1- and 2-byte forms.
        assert!(parse_detached(&format!("{header}..AA")).is_some());
        assert!(parse_detached(&format!("{header}..AAA")).is_some());
    }

    #[test]
    fn a_header_repeating_a_member_is_not_read() {
        for header in [
            r#"{"alg":"ES256","kid":"k1","kid":"k2"}"#,
            r#"{"alg":"ES256","kid":"k1","\u006bid":"k2"}"#,
            r#"{"alg":"ES256","alg":"ES256","kid":"k1"}"#,
            r#"{"alg":"ES256","kid":"k1","typ":"JOSE","typ":"JOSE"}"#,
        ] {
            assert!(parse_detached(&jws(header, "AAAA")).is_none(), "{header}");
        }
    }

    #[test]
    fn sizes_are_bounded_before_decoding() {
        let kid = "k".repeat(MAX_HEADER_BYTES - r#"{"alg":"ES256","kid":""}"#.len());
        let largest = format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#);
        assert_eq!(largest.len(), MAX_HEADER_BYTES);
        assert!(parse_detached(&jws(&largest, "AAAA")).is_some());
        let over = format!(r#"{{"alg":"ES256","kid":"{kid}k"}}"#);
        assert!(parse_detached(&jws(&over, "AAAA")).is_none());
        let signature = b64(&[1u8; MAX_SIGNATURE_BYTES]);
        assert!(parse_detached(&jws(HEADER, &signature)).is_some());
        let signature = b64(&[1u8; MAX_SIGNATURE_BYTES + 1]);
        assert!(parse_detached(&jws(HEADER, &signature)).is_none());
    }
}
