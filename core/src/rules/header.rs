//! The header: template, symbol, number, issue date, currency and exchange rate
//! (docs/invoice-rules.md, "Parties and header"). Their shapes are the field tables'; here are
//! the rules between them.

use std::ops::RangeInclusive;

use pyo3::prelude::*;

use super::amounts::AmountRules;
use super::object::Field;
use super::scalars::{date_ordinal, string};
use crate::decimal::{Fx, ONE};

/// The invoice's identity, checked: what the original invoice, the lines and the summary need.
pub struct Header {
    pub template: String,
    pub symbol: String,
    pub number: i64,
    pub issued_date: String,
    /// The issue date as an ordinal day.
    pub issued: i64,
}

/// Template, symbol, number and issue date: the template is a digit 1-9, the invoice is issued
/// within `window` (ordinal days), and the symbol's year and type letter match its date and
/// template.
pub fn check_identity(
    template: &Bound<'_, PyAny>,
    symbol: &Bound<'_, PyAny>,
    number: &Bound<'_, PyAny>,
    issued_date: &Bound<'_, PyAny>,
    window: RangeInclusive<i64>,
) -> Option<Header> {
    let template = string(template)?;
    let symbol = string(symbol)?;
    let number: i64 = number.extract().ok()?;
    let issued_date = string(issued_date)?;
    let (issued, year) = date_ordinal(issued_date)?;
    let fits = template_digit(template)
        && window.contains(&issued)
        && symbol_matches(symbol, year, template);
    fits.then(|| Header {
        template: template.to_owned(),
        symbol: symbol.to_owned(),
        number,
        issued_date: issued_date.to_owned(),
        issued,
    })
}

/// The symbol's two digits are the issue year's, and its type letter is N or B exactly on a
/// template 6 invoice.
fn symbol_matches(symbol: &str, year: i64, template: &str) -> bool {
    symbol_parts(symbol).is_some_and(|(symbol_year, type_letter)| {
        symbol_year == year % 100 && matches!(type_letter, b'N' | b'B') == (template == "6")
    })
}

/// `[1-9]`.
pub fn template_digit(template: &str) -> bool {
    matches!(template.as_bytes(), [b'1'..=b'9'])
}

/// `[CK][0-9]{2}[TDLMNBGHX][A-Z]{2}`: the symbol's two-digit year and type letter.
pub fn symbol_parts(symbol: &str) -> Option<(i64, u8)> {
    let b = symbol.as_bytes();
    let well_formed = b.len() == 6
        && matches!(b[0], b'C' | b'K')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b"TDLMNBGHX".contains(&b[3])
        && b[4].is_ascii_uppercase()
        && b[5].is_ascii_uppercase();
    well_formed.then(|| (i64::from(b[1] - b'0') * 10 + i64::from(b[2] - b'0'), b[3]))
}

/// Whether the invoice is in VND: no currency given, or VND.
pub fn is_vnd(currency: &Field<'_>) -> Option<bool> {
    match currency {
        None => Some(true),
        Some(currency) => Some(string(currency)? == "VND"),
    }
}

/// The exchange rate: 1 (or none) for VND, positive and given for any other currency.
pub fn check_exchange_rate(rate: &Field<'_>, amounts: &AmountRules) -> Option<()> {
    let fits = match (amounts.value(rate, false)?, amounts.vnd) {
        (None, vnd) => vnd,
        (Some(rate), true) => rate == Fx(ONE),
        (Some(rate), false) => rate.0 > 0,
    };
    fits.then_some(())
}
