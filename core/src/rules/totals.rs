//! The totals (TToan): one summary per VAT rate of the lines, each with the sum of that rate's
//! lines and its tax within the rounding tolerance; and the invoice's totals, which are the sums
//! of those (docs/invoice-rules.md, "Totals").

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::amounts::{vat_percent, AmountRules};
use super::fields::{RATE_SUMMARY, TOTALS};
use super::lines::LineSums;
use super::object::{emit, emit_list, members, Field};
use super::scalars::string;
use crate::decimal::Fx;

/// The totals, checked.
pub struct Totals {
    pub json: Vec<u8>,
    pub total_payable: String,
    pub tax_amount: String,
}

/// What the rate summaries state, summed, and their written form.
#[derive(Default)]
struct Stated {
    taxable: Fx,
    tax: Fx,
    json: Vec<u8>,
}

/// The totals against the lines' sums.
pub fn check_totals(
    totals: &Bound<'_, PyAny>,
    sums: &LineSums,
    amounts: &AmountRules,
) -> Option<Totals> {
    let object = members(totals, &TOTALS)?;
    let [before_tax, by_rate, discount, tax, _in_words, payable] = &object.fields;
    let stated = check_rate_summaries(by_rate, sums, amounts)?;
    let before_tax_value = amounts.required(before_tax, true)?;
    let tax_value = amounts.required(tax, true)?;
    let payable_value = amounts.required(payable, true)?;
    let discount = amounts.value(discount, true)?;
    let adds_up = before_tax_value == stated.taxable.add(sums.unrated)?
        && tax_value == stated.tax
        && discount.is_none_or(|discount| discount == sums.discounts)
        && payable_value == before_tax_value.add(tax_value)?;
    if !adds_up {
        return None;
    }
    let mut json = Vec::with_capacity(256 + stated.json.len());
    let by_rate_json = by_rate.as_ref().map(|_| stated.json.as_slice());
    emit(
        &object,
        &TOTALS,
        [None, by_rate_json, None, None, None, None],
        &mut json,
    )?;
    Some(Totals {
        json,
        total_payable: string(payable.as_ref()?)?.to_owned(),
        tax_amount: string(tax.as_ref()?)?.to_owned(),
    })
}

/// The rate summaries: exactly one for each rate of the lines.
fn check_rate_summaries(
    by_rate: &Field<'_>,
    sums: &LineSums,
    amounts: &AmountRules,
) -> Option<Stated> {
    let mut seen = vec![false; sums.by_rate.len()];
    let mut stated = Stated::default();
    if let Some(summaries) = by_rate {
        let summaries = summaries.cast_exact::<PyList>().ok()?;
        let mut items = Vec::with_capacity(summaries.len());
        for summary in summaries.iter() {
            items.push(check_rate_summary(
                &summary,
                sums,
                amounts,
                &mut seen,
                &mut stated,
            )?);
        }
        emit_list(&items, &mut stated.json);
    }
    (!seen.contains(&false)).then_some(stated)
}

/// One rate summary, of a rate of the lines not summarised before: its taxable amount is that
/// rate's sum and its tax within tolerance. Adds it to `stated` and returns its written form.
fn check_rate_summary(
    summary: &Bound<'_, PyAny>,
    sums: &LineSums,
    amounts: &AmountRules,
    seen: &mut [bool],
    stated: &mut Stated,
) -> Option<Vec<u8>> {
    let object = members(summary, &RATE_SUMMARY)?;
    let [tax, taxable, rate] = &object.fields;
    let rate = string(rate.as_ref()?)?;
    let taxable = amounts.required(taxable, true)?;
    let tax = amounts.required(tax, true)?;
    stated.taxable = stated.taxable.add(taxable)?;
    stated.tax = stated.tax.add(tax)?;
    let percent = vat_percent(rate)?;
    let index = sums.by_rate.iter().position(|sum| sum.rate == rate)?;
    if std::mem::replace(&mut seen[index], true) {
        return None;
    }
    let lines = &sums.by_rate[index];
    if taxable != lines.amount
        || !tax_within_tolerance(tax, taxable, percent, lines.lines, amounts)?
    {
        return None;
    }
    let mut json = Vec::with_capacity(96);
    emit(&object, &RATE_SUMMARY, [None; 3], &mut json)?;
    Some(json)
}

/// The stated tax is the taxable amount x the rate, within (n + 1) / 2 units of the currency for
/// n lines at a non-zero rate, exactly at a zero rate (docs/invoice-rules.md).
fn tax_within_tolerance(
    tax: Fx,
    taxable: Fx,
    percent: Fx,
    lines: i128,
    amounts: &AmountRules,
) -> Option<bool> {
    let expected = taxable.percent_of(percent)?;
    let tolerance = if percent == Fx::ZERO {
        Fx::ZERO
    } else {
        Fx(amounts.unit.0 * (lines + 1) / 2)
    };
    Some(tax.sub(expected)?.abs() <= tolerance)
}
