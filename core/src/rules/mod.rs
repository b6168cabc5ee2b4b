//! "Certainly valid?": the structure (einvoice/invoice/model.py) and the business rules
//! (einvoice/invoice/rules.py) of an invoice, read straight from the parsed JSON.
//!
//! This is a filter, not a second rule book: it answers `Some(..)` only when the invoice passes
//! every check of the reference implementation, and `None` for anything else, including what it
//! does not handle itself (discount rates, amounts beyond 10^16, unusual types). On `None` the
//! Python reference rules run and explain every failure, so error codes and messages have one
//! source. The differential tests (tests/einvoice/invoice/test_compiled.py) hold the two
//! together; tests/einvoice/invoice/test_compiled_fields.py holds the field tables to the model.
//!
//! One walk: each object is checked against its field table (fields.rs, object.rs), then by the
//! rules of its section (header, original invoice, parties, lines, totals), and written in RFC
//! 8785 form as it goes. Every check is a pure function of the invoice, so their order does not
//! change the answer.

use pyo3::prelude::*;

mod amounts;
mod fields;
mod header;
mod lines;
mod object;
mod original;
mod parties;
mod scalars;
mod totals;

use amounts::AmountRules;
pub use fields::describe as describe_fields;
use fields::INVOICE;
use object::{emit, members, present};

/// What the rest of authentication needs from a valid invoice.
pub struct Summary {
    pub template: String,
    pub symbol: String,
    pub number: i64,
    pub issued_date: String,
    pub issued_ordinal: i64,
    pub seller_tax_code: String,
    pub total_payable: String,
    pub tax_amount: String,
}

/// `Some` when the invoice certainly passes the model and every rule with its issue date from
/// `earliest` to `today` (ordinals of the oldest and the latest issue dates allowed, clock skew
/// included); its RFC 8785 bytes are then in `out`.
pub fn check(
    invoice: &Bound<'_, PyAny>,
    earliest: i64,
    today: i64,
    out: &mut Vec<u8>,
) -> Option<Summary> {
    let object = members(invoice, &INVOICE)?;
    let [buyer, currency, exchange_rate, issued_date, lines, number, original, _payment_method, seller, symbol, template, totals] =
        &object.fields;

    let header = header::check_identity(
        template.as_ref()?,
        symbol.as_ref()?,
        number.as_ref()?,
        issued_date.as_ref()?,
        earliest..=today,
    )?;
    let original = original::check_original(original, &header)?;
    let amounts = AmountRules::new(header::is_vnd(currency)?, original.adjusting);
    header::check_exchange_rate(exchange_rate, &amounts)?;
    let seller = parties::check_seller(seller.as_ref()?)?;
    let buyer_json = parties::check_buyer(buyer)?;
    let lines = lines::check_lines(lines.as_ref()?, &header.template, &amounts)?;
    let totals = totals::check_totals(totals.as_ref()?, &lines.sums, &amounts)?;

    emit(
        &object,
        &INVOICE,
        [
            present(&buyer_json),
            None,
            None,
            None,
            Some(lines.json.as_slice()),
            None,
            present(&original.json),
            None,
            Some(seller.json.as_slice()),
            None,
            None,
            Some(totals.json.as_slice()),
        ],
        out,
    )?;
    Some(Summary {
        template: header.template,
        symbol: header.symbol,
        number: header.number,
        issued_date: header.issued_date,
        issued_ordinal: header.issued,
        seller_tax_code: seller.tax_code,
        total_payable: totals.total_payable,
        tax_amount: totals.tax_amount,
    })
}
