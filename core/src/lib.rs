//! The compiled fast path of invoice authentication (docs/signing.md, "The compiled core").
//!
//! One call takes a parsed invoice and its seller's detached JWS and, when the invoice is
//! certainly valid and the signature verifies, returns everything the service answers with:
//! canonical bytes, hash, authority code and signed token. Otherwise it returns `None` and the
//! reference implementation in Python (einvoice/invoice/authenticate.py) decides and explains.
//! It is pure like its Python twin: keys, clock and randomness come in from the caller.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

mod canonical;
mod decimal;
mod hdon;
mod ijson;
mod jws;
mod rules;
mod taxcode;

use hdon::DataReader;
use jws::{CompiledKey, TokenSigner};

const VIETNAM_OFFSET: f64 = 7.0 * 3600.0;
const CLOCK_SKEW: f64 = 300.0;
/// Days before the (skewed) latest issue day still accepted: einvoice/invoice/rules.py's
/// MAX_BACKDATE, which decides and explains it.
const MAX_BACKDATE_DAYS: i64 = 180;
const UNIX_EPOCH_ORDINAL: i64 = 719_163; // date(1970, 1, 1).toordinal()

/// The latest issue date allowed at `now` (Unix seconds), as an ordinal day; `None` within a
/// millisecond of the day's edge, where float rounding could disagree with Python's datetime.
fn latest_issue_day(now: f64) -> Option<i64> {
    let seconds = now + CLOCK_SKEW + VIETNAM_OFFSET;
    let into_day = seconds.rem_euclid(86_400.0);
    if !(0.001..86_399.999).contains(&into_day) {
        return None;
    }
    Some((seconds / 86_400.0).floor() as i64 + UNIX_EPOCH_ORDINAL)
}

type Authenticated<'py> = (Bound<'py, PyBytes>, String, String, bool, String);

#[pyfunction]
#[pyo3(signature = (invoice, signature, keys_for_seller, signer, issuer, code_prefix, now))]
#[allow(clippy::too_many_arguments)]
fn authenticate<'py>(
    py: Python<'py>,
    invoice: &Bound<'py, PyAny>,
    signature: &Bound<'py, PyAny>,
    keys_for_seller: &Bound<'py, PyAny>,
    signer: &Bound<'py, TokenSigner>,
    issuer: &str,
    code_prefix: &str,
    now: f64,
) -> PyResult<Option<Authenticated<'py>>> {
    let Some(today) = latest_issue_day(now) else {
        return Ok(None);
    };
    let mut canonical = Vec::with_capacity(4096);
    let Some(summary) = rules::check(invoice, today - MAX_BACKDATE_DAYS, today, &mut canonical)
    else {
        return Ok(None);
    };
    let Ok(signature) = signature.cast_exact::<PyString>() else {
        return Ok(None);
    };
    let Some((kid, header_b64, raw_signature, alg)) = jws::parse_detached(signature.to_str()?)
    else {
        return Ok(None);
    };
    let keys = keys_for_seller.call1((summary.seller_tax_code.as_str(),))?;
    let Ok(key) = keys.get_item(kid.as_str()) else {
        return Ok(None);
    };
    let compiled = key.getattr("compiled")?;
    let Ok(compiled) = compiled.cast::<CompiledKey>() else {
        return Ok(None);
    };

    let mut signing_input = Vec::with_capacity(header_b64.len() + 1 + canonical.len() * 4 / 3 + 4);
    signing_input.extend_from_slice(header_b64);
    signing_input.push(b'.');
    jws::b64url_into(&canonical, &mut signing_input);
    if !compiled.get().accepts(
        &summary.seller_tax_code,
        &alg,
        summary.issued_ordinal,
        now,
        &signing_input,
        &raw_signature,
    ) {
        return Ok(None);
    }

    let digest = ring::digest::digest(&ring::digest::SHA256, &canonical);
    let invoice_hash = hex(digest.as_ref(), b"0123456789abcdef");
    let signer = signer.get();
    let mut random = [0u8; 16];
    if signer.random_bytes(&mut random).is_none() {
        return Ok(None);
    }
    let code = format!("{code_prefix}{}", hex(&random, b"0123456789ABCDEF"));
    let coded = summary.symbol.starts_with('C');

    // The claims in the order signing/authority.py's `token_claims` writes them.
    let mut claims = Vec::with_capacity(512);
    let text = |name: &str, value: &str, claims: &mut Vec<u8>| {
        claims.push(if claims.is_empty() { b'{' } else { b',' });
        canonical::write_string(name, claims);
        claims.push(b':');
        canonical::write_string(value, claims);
    };
    text("iss", issuer, &mut claims);
    text("code", &code, &mut claims);
    text("seller_tax_code", &summary.seller_tax_code, &mut claims);
    text("template", &summary.template, &mut claims);
    text("symbol", &summary.symbol, &mut claims);
    claims.extend_from_slice(format!(",\"number\":{}", summary.number).as_bytes());
    text("issued_date", &summary.issued_date, &mut claims);
    text("total_payable", &summary.total_payable, &mut claims);
    text("tax_amount", &summary.tax_amount, &mut claims);
    text("invoice_hash", &invoice_hash, &mut claims);
    claims.extend_from_slice(
        format!(",\"coded\":{coded},\"iat\":{}}}", now.floor() as i64).as_bytes(),
    );
    let Some(token) = signer.sign(&claims) else {
        return Ok(None);
    };
    Ok(Some((
        PyBytes::new(py, &canonical),
        invoice_hash,
        code,
        coded,
        token,
    )))
}

/// The RFC 8785 bytes of `invoice` when the compiled rules hold it certainly valid at `now`,
/// else `None` (for the differential tests).
#[pyfunction]
fn check_invoice<'py>(
    py: Python<'py>,
    invoice: &Bound<'py, PyAny>,
    now: f64,
) -> Option<Bound<'py, PyBytes>> {
    let mut canonical = Vec::with_capacity(4096);
    let today = latest_issue_day(now)?;
    rules::check(invoice, today - MAX_BACKDATE_DAYS, today, &mut canonical)?;
    Some(PyBytes::new(py, &canonical))
}

/// The compiled core's field tables, `{object: {member: (required, nullable, kind, parameters)}}`,
/// for the test that holds them to the pydantic model (tests/einvoice/invoice/test_compiled_fields.py).
#[pyfunction]
fn field_tables(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    rules::describe_fields(py)
}

/// The JSON pointer of the first member whose name its object has already (I-JSON, RFC 7493),
/// or `None`; ValueError when `data` breaks JSON's grammar or nests deeper than 64 levels
/// (signing/strict_json.py parses with orjson first).
#[pyfunction]
fn first_duplicate_member(data: &[u8]) -> PyResult<Option<String>> {
    ijson::first_duplicate(data)
        .map_err(|error| pyo3::exceptions::PyValueError::new_err(error.to_string()))
}

fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(digits[usize::from(byte >> 4)]));
        out.push(char::from(digits[usize::from(byte & 0xf)]));
    }
    out
}

#[pymodule]
mod einvoice_core {
    #[pymodule_export]
    use super::{
        authenticate, check_invoice, field_tables, first_duplicate_member, CompiledKey, DataReader,
        TokenSigner,
    };
}
