//! The lines (DSHHDVu): numbered in increasing order; a note (nature 4) carries no amounts; every
//! other line has a VAT rate exactly where the template wants one, and an amount that is its
//! quantity x unit price less its discount, within one unit of the currency. Their sums by rate
//! are what the totals are checked against.

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::amounts::{vat_percent, AmountRules};
use super::fields::LINE;
use super::object::{emit, emit_list, members, Field};
use super::scalars::string;
use crate::decimal::Fx;

const TRADE_DISCOUNT: i64 = 3;
const NOTE: i64 = 4;

type LineFields<'py> = [Field<'py>; LINE.len()];

/// The sums of the lines, for the totals.
#[derive(Default)]
pub struct LineSums {
    /// Each rate as written, in order of first appearance.
    pub by_rate: Vec<RateSum>,
    /// The sum of the lines without a rate (sales invoices).
    pub unrated: Fx,
    /// The sum of the trade discounts.
    pub discounts: Fx,
}

/// The lines of one VAT rate.
pub struct RateSum {
    pub rate: String,
    /// Their amounts, trade discounts subtracted.
    pub amount: Fx,
    pub lines: i128,
}

/// The lines, checked: their sums and their written form.
pub struct Lines {
    pub sums: LineSums,
    pub json: Vec<u8>,
}

/// Which lines carry a VAT rate under a template.
#[derive(Clone, Copy)]
struct RatePolicy {
    /// Not on a sales invoice (templates 2 and 9).
    allowed: bool,
    /// On every goods line of a VAT invoice (templates 1 and 8).
    needed: bool,
}

impl RatePolicy {
    fn of(template: &str) -> Self {
        RatePolicy {
            allowed: !matches!(template, "2" | "9"),
            needed: matches!(template, "1" | "8"),
        }
    }

    /// Whether a goods line may have this rate (or none): an allowed one, where one is allowed.
    fn admits(self, rate: Option<&str>) -> bool {
        match rate {
            None => !self.needed,
            Some(rate) => self.allowed && vat_percent(rate).is_some(),
        }
    }
}

/// The lines of an invoice of `template` (their number is the field tables').
pub fn check_lines(
    lines: &Bound<'_, PyAny>,
    template: &str,
    amounts: &AmountRules,
) -> Option<Lines> {
    let lines = lines.cast_exact::<PyList>().ok()?;
    let policy = RatePolicy::of(template);
    let mut sums = LineSums::default();
    let mut previous_no = 0;
    let mut written = Vec::with_capacity(lines.len());
    for line in lines.iter() {
        let object = members(&line, &LINE)?;
        let no = line_number(&object.fields)?;
        if no <= previous_no {
            return None;
        }
        previous_no = no;
        check_line(&object.fields, policy, amounts, &mut sums)?;
        let mut line_json = Vec::with_capacity(256);
        emit(&object, &LINE, [None; LINE.len()], &mut line_json)?;
        written.push(line_json);
    }
    let mut json = Vec::with_capacity(written.iter().map(Vec::len).sum::<usize>() + 16);
    emit_list(&written, &mut json);
    Some(Lines { sums, json })
}

/// The line's number (`no`).
fn line_number(fields: &LineFields<'_>) -> Option<i64> {
    let [_, _, _, _, _, _, no, _, _, _, _] = fields;
    no.as_ref()?.extract().ok()
}

/// One line's rate and amount, added to `sums`.
fn check_line(
    fields: &LineFields<'_>,
    policy: RatePolicy,
    amounts: &AmountRules,
    sums: &mut LineSums,
) -> Option<()> {
    let [_, _, _, discount_rate, _, nature, _, _, _, _, vat_rate] = fields;
    let nature: i64 = nature.as_ref()?.extract().ok()?;
    let rate = match vat_rate {
        None => None,
        Some(rate) => Some(string(rate)?),
    };
    if nature == NOTE {
        // A note carries no amounts (and its decimals need not be read further).
        return is_bare_note(fields).then_some(());
    }
    if discount_rate.is_some() {
        return None; // rate x gross leaves the exact range here: the reference rules decide
    }
    if !policy.admits(rate) {
        return None;
    }
    let amount = line_amount(fields, nature, amounts)?;
    sums.add(rate, amount, nature == TRADE_DISCOUNT)
}

/// A note line: no quantity, price, discount, amount or rate.
fn is_bare_note(fields: &LineFields<'_>) -> bool {
    let [amount, _, discount_amount, discount_rate, _, _, _, quantity, _, unit_price, vat_rate] =
        fields;
    [
        quantity,
        unit_price,
        discount_rate,
        discount_amount,
        amount,
        vat_rate,
    ]
    .iter()
    .all(|field| field.is_none())
}

/// The line's amount, which must be its quantity x unit price less its discount amount within
/// one unit of the currency; a trade discount (nature 3) may state its amount alone.
fn line_amount(fields: &LineFields<'_>, nature: i64, amounts: &AmountRules) -> Option<Fx> {
    let [amount, _, discount_amount, _, _, _, _, quantity, _, unit_price, _] = fields;
    let amount = amounts.required(amount, true)?;
    let quantity = amounts.value(quantity, false)?;
    let unit_price = amounts.value(unit_price, false)?;
    let discount = amounts.value(discount_amount, true)?;
    match (quantity, unit_price) {
        (Some(quantity), Some(unit_price)) => {
            let mut expected = quantity.mul6(unit_price)?;
            if let Some(discount) = discount {
                expected = expected.sub(discount)?;
            }
            (amount.sub(expected)?.abs() <= amounts.unit).then_some(amount)
        }
        _ => (nature == TRADE_DISCOUNT).then_some(amount),
    }
}

impl LineSums {
    /// Adds a line's amount to its rate's sum (or the unrated sum); a trade discount counts
    /// negative there, and into the discounts.
    fn add(&mut self, rate: Option<&str>, amount: Fx, trade_discount: bool) -> Option<()> {
        let mut signed = amount;
        if trade_discount {
            self.discounts = self.discounts.add(amount)?;
            signed = amount.neg();
        }
        let Some(rate) = rate else {
            self.unrated = self.unrated.add(signed)?;
            return Some(());
        };
        match self.by_rate.iter_mut().find(|sum| sum.rate == rate) {
            Some(sum) => {
                sum.amount = sum.amount.add(signed)?;
                sum.lines += 1;
            }
            None => self.by_rate.push(RateSum {
                rate: rate.to_owned(),
                amount: signed,
                lines: 1,
            }),
        }
        Some(())
    }
}
