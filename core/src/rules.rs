//! "Certainly valid?": the structure (einvoice/invoice/model.py) and the business rules
//! (einvoice/invoice/rules.py) of an invoice, read straight from the parsed JSON.
//!
//! This is a filter, not a second rule book: it answers `Some(..)` only when the invoice passes
//! every check of the reference implementation, and `None` for anything else, including what it
//! does not handle itself (discount rates, amounts beyond 10^16, unusual types). On `None` the
//! Python reference rules run and explain every failure, so error codes and messages have one
//! source. The differential tests (tests/invoice/test_compiled.py) hold the two together.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyString};

use crate::canonical::write_string;
use crate::decimal::{self, Fx, ONE};
use crate::taxcode;

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

type Field<'py> = Option<Bound<'py, PyAny>>;

/// A JSON object's members by name (names sorted, as RFC 8785 writes them), and which of them
/// were null.
struct Obj<'py, const N: usize> {
    fields: [Field<'py>; N],
    null: [bool; N],
}

/// The members of a JSON object, `None` when it is not a plain dict, has a name not in `names`
/// (the model forbids extra fields), or has null where `nullable` says no.
fn members<'py, const N: usize>(
    value: &Bound<'py, PyAny>,
    names: [&str; N],
    nullable: [bool; N],
) -> Option<Obj<'py, N>> {
    let dict = value.cast_exact::<PyDict>().ok()?;
    let mut found = Obj {
        fields: std::array::from_fn(|_| None),
        null: [false; N],
    };
    for (key, item) in dict.iter() {
        let key = key.cast_exact::<PyString>().ok()?;
        let key = key.to_str().ok()?;
        let index = names.iter().position(|name| *name == key)?;
        if item.is_none() {
            if !nullable[index] {
                return None;
            }
            found.null[index] = true;
        } else {
            found.fields[index] = Some(item);
        }
    }
    Some(found)
}

/// Writes a checked object's canonical form: members in name order, text, integers and null
/// inline, objects and lists from `nested` (written when they were checked).
fn emit<const N: usize>(
    object: &Obj<'_, N>,
    names: [&str; N],
    nested: [Option<&[u8]>; N],
    out: &mut Vec<u8>,
) -> Option<()> {
    out.push(b'{');
    let mut first = true;
    for index in 0..N {
        let field = &object.fields[index];
        if field.is_none() && !object.null[index] {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(names[index], out);
        out.push(b':');
        match (field, nested[index]) {
            (None, _) => out.extend_from_slice(b"null"),
            (Some(_), Some(fragment)) => out.extend_from_slice(fragment),
            (Some(value), None) => {
                if let Ok(text) = value.cast_exact::<PyString>() {
                    write_string(text.to_str().ok()?, out);
                } else if value.is_exact_instance_of::<PyInt>() {
                    let number: i64 = value.extract().ok()?;
                    out.extend_from_slice(number.to_string().as_bytes());
                } else {
                    return None; // an object or a list that was not written when checked
                }
            }
        }
    }
    out.push(b'}');
    Some(())
}

/// Writes a list of canonical fragments.
fn emit_list(items: &[Vec<u8>], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
}

/// Non-empty text of at most `max` characters (code points, as Python counts them).
fn text(value: &Bound<'_, PyAny>, max: usize) -> Option<String> {
    let string = value.cast_exact::<PyString>().ok()?;
    let text = string.to_str().ok()?;
    let fits = if text.len() <= max {
        !text.is_empty()
    } else {
        text.chars().count() <= max
    };
    fits.then(|| text.to_owned())
}

fn optional_text(value: &Field<'_>, max: usize) -> Option<Option<String>> {
    match value {
        None => Some(None),
        Some(value) => text(value, max).map(Some),
    }
}

fn integer(value: &Bound<'_, PyAny>, low: i64, high: i64) -> Option<i64> {
    if !value.is_exact_instance_of::<PyInt>() {
        return None; // bool is an int subclass in Python; the model refuses it
    }
    let number: i64 = value.extract().ok()?;
    (low..=high).contains(&number).then_some(number)
}

/// A decimal string field: its value and its text.
fn decimal_field(value: &Bound<'_, PyAny>) -> Option<(Fx, String)> {
    let text = text(value, 23)?;
    let (number, _) = decimal::parse(&text)?;
    Some((number, text))
}

/// A `YYYY-MM-DD` calendar date as Python's `date.toordinal()`.
pub fn date_ordinal(text: &str) -> Option<(i64, i64)> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |part: &[u8]| -> Option<i64> {
        part.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let before_year = (year - 1) * 365 + (year - 1) / 4 - (year - 1) / 100 + (year - 1) / 400;
    let before_month: i64 = month_days[..(month - 1) as usize].iter().sum();
    Some((before_year + before_month + day, year))
}

/// A nested member's written form, `None` when it was absent.
fn present(json: &[u8]) -> Option<&[u8]> {
    (!json.is_empty()).then_some(json)
}

/// `[CK][0-9]{2}[TDLMNBGHX][A-Z]{2}`: the symbol's two-digit year and type letter.
fn symbol_parts(symbol: &str) -> Option<(i64, u8)> {
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

fn template_digit(template: &str) -> bool {
    matches!(template.as_bytes(), [b'1'..=b'9'])
}

/// The percent of an allowed VAT rate: 0%, 5%, 8%, 10%, KCT, KKKNT or KHAC:x.xx.
pub fn vat_percent(rate: &str) -> Option<Fx> {
    match rate {
        "0%" | "KCT" | "KKKNT" => Some(Fx::ZERO),
        "5%" => Some(Fx(5 * ONE)),
        "8%" => Some(Fx(8 * ONE)),
        "10%" => Some(Fx(10 * ONE)),
        _ => {
            let value = rate.strip_prefix("KHAC:")?;
            let b = value.as_bytes();
            let point = b.iter().position(|&c| c == b'.')?;
            let shape_ok = (1..=2).contains(&point)
                && b.len() == point + 3
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == point || c.is_ascii_digit());
            if shape_ok {
                decimal::parse(value).map(|(percent, _)| percent)
            } else {
                None
            }
        }
    }
}

struct Checker {
    vnd: bool,
    adjusting: bool,
    unit: Fx,
}

impl Checker {
    /// A decimal's value after the checks every one shares (sign, whole dong).
    fn value(&self, field: &Field<'_>, money: bool) -> Option<Option<Fx>> {
        let Some(field) = field else {
            return Some(None);
        };
        let (number, text) = decimal_field(field)?;
        if text.starts_with('-') && !self.adjusting {
            return None;
        }
        if money && self.vnd && !number.is_whole() {
            return None;
        }
        Some(Some(number))
    }

    fn required(&self, field: &Field<'_>, money: bool) -> Option<Fx> {
        self.value(field, money)?
    }
}

// Member names in RFC 8785 order (sorted), each with whether the model lets it be null.
const INVOICE: [&str; 12] = [
    "buyer",
    "currency",
    "exchange_rate",
    "issued_date",
    "lines",
    "number",
    "payment_method",
    "related",
    "seller",
    "symbol",
    "template",
    "totals",
];
const INVOICE_NULLABLE: [bool; 12] = [
    false, false, true, false, false, false, true, true, false, false, false, false,
];
const SELLER: [&str; 6] = [
    "address",
    "bank_account",
    "email",
    "name",
    "phone",
    "tax_code",
];
const SELLER_NULLABLE: [bool; 6] = [false, true, true, false, true, false];
const BUYER: [&str; 4] = ["address", "citizen_id", "name", "tax_code"];
const LINE: [&str; 11] = [
    "amount",
    "code",
    "discount_amount",
    "discount_rate",
    "name",
    "nature",
    "no",
    "quantity",
    "unit",
    "unit_price",
    "vat_rate",
];
const LINE_NULLABLE: [bool; 11] = [
    true, true, true, true, false, false, false, true, true, true, true,
];
const TOTALS: [&str; 6] = [
    "amount_before_tax",
    "by_rate",
    "discount_amount",
    "tax_amount",
    "total_in_words",
    "total_payable",
];
const TOTALS_NULLABLE: [bool; 6] = [false, false, true, false, true, false];
const SUMMARY: [&str; 3] = ["tax_amount", "taxable_amount", "vat_rate"];
const RELATED: [&str; 5] = ["issued_date", "nature", "number", "symbol", "template"];
const MAX_LINES: usize = 1000;
const MAX_RATE_SUMMARIES: usize = 20;

/// `Some` when the invoice certainly passes the model and every rule at `today` (the ordinal of
/// the latest issue date allowed, clock skew included); its RFC 8785 bytes are then in `out`.
pub fn check(invoice: &Bound<'_, PyAny>, today: i64, out: &mut Vec<u8>) -> Option<Summary> {
    let object = members(invoice, INVOICE, INVOICE_NULLABLE)?;
    let [buyer, currency, exchange_rate, issued_date, lines, number, payment_method, related, seller, symbol, template, totals] =
        &object.fields;

    // -- header ----------------------------------------------------------------------------------
    let template = text(template.as_ref()?, 1)?;
    let symbol = text(symbol.as_ref()?, 6)?;
    let number = integer(number.as_ref()?, 1, 99_999_999)?;
    let issued_date = text(issued_date.as_ref()?, 10)?;
    let (issued, year) = date_ordinal(&issued_date)?;
    if !template_digit(&template) || issued > today {
        return None;
    }
    let (symbol_year, type_letter) = symbol_parts(&symbol)?;
    if symbol_year != year % 100 || matches!(type_letter, b'N' | b'B') != (template == "6") {
        return None;
    }
    let vnd = match currency {
        None => true,
        Some(currency) => {
            let currency = text(currency, 3)?;
            let b = currency.as_bytes();
            if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
                return None;
            }
            currency == "VND"
        }
    };
    optional_text(payment_method, 50)?;

    // -- related invoice -------------------------------------------------------------------------
    let mut adjusting = false;
    let mut related_json = Vec::new();
    if let Some(related) = related {
        let related_object = members(related, RELATED, [false; 5])?;
        let [r_date, nature, r_number, r_symbol, r_template] = &related_object.fields;
        adjusting = match text(nature.as_ref()?, 7)?.as_str() {
            "adjust" => true,
            "replace" => false,
            _ => return None,
        };
        let r_template = text(r_template.as_ref()?, 1)?;
        let r_symbol = text(r_symbol.as_ref()?, 6)?;
        let r_number = integer(r_number.as_ref()?, 1, 99_999_999)?;
        let (r_issued, _) = date_ordinal(&text(r_date.as_ref()?, 10)?)?;
        if !template_digit(&r_template)
            || symbol_parts(&r_symbol).is_none()
            || r_issued > issued
            || (r_template == template && r_symbol == symbol && r_number == number)
        {
            return None;
        }
        emit(&related_object, RELATED, [None; 5], &mut related_json)?;
    }
    let checker = Checker {
        vnd,
        adjusting,
        unit: if vnd { Fx(ONE) } else { Fx(ONE / 100) },
    };
    match checker.value(exchange_rate, false)? {
        None if !vnd => return None,
        Some(rate) if !vnd && rate.0 <= 0 => return None,
        Some(rate) if vnd && rate != Fx(ONE) => return None,
        _ => {}
    }

    // -- parties ---------------------------------------------------------------------------------
    let seller_object = members(seller.as_ref()?, SELLER, SELLER_NULLABLE)?;
    let [address, bank_account, email, name, phone, tax_code] = &seller_object.fields;
    let seller_tax_code = text(tax_code.as_ref()?, 14)?;
    text(name.as_ref()?, 400)?;
    text(address.as_ref()?, 400)?;
    optional_text(phone, 20)?;
    optional_text(email, 50)?;
    optional_text(bank_account, 30)?;
    if !taxcode::is_valid(&seller_tax_code) {
        return None;
    }
    let mut seller_json = Vec::with_capacity(256);
    emit(&seller_object, SELLER, [None; 6], &mut seller_json)?;
    let mut buyer_json = Vec::new();
    if let Some(buyer) = buyer {
        let buyer_object = members(buyer, BUYER, [true; 4])?;
        let [address, citizen_id, name, tax_code] = &buyer_object.fields;
        if let Some(code) = optional_text(tax_code, 14)? {
            if !taxcode::is_valid(&code) {
                return None;
            }
        }
        optional_text(name, 400)?;
        optional_text(address, 400)?;
        if let Some(id) = optional_text(citizen_id, 12)? {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
        buyer_json.reserve(256);
        emit(&buyer_object, BUYER, [None; 4], &mut buyer_json)?;
    }

    // -- lines -----------------------------------------------------------------------------------
    let lines = lines.as_ref()?.cast_exact::<PyList>().ok()?;
    if lines.is_empty() || lines.len() > MAX_LINES {
        return None;
    }
    let rated = !matches!(template.as_str(), "2" | "9");
    let needs_rate = matches!(template.as_str(), "1" | "8");
    // (rate as written, sum of its lines, number of its lines), in order of appearance.
    let mut by_rate: Vec<(String, Fx, i128)> = Vec::new();
    let mut unrated_total = Fx::ZERO;
    let mut discount_total = Fx::ZERO;
    let mut previous_no = 0;
    let mut lines_json = Vec::with_capacity(lines.len());
    for line in lines.iter() {
        let line_object = members(&line, LINE, LINE_NULLABLE)?;
        let [amount, code, discount_amount, discount_rate, name, nature, no, quantity, unit, unit_price, vat_rate] =
            &line_object.fields;
        let no = integer(no.as_ref()?, 1, MAX_LINES as i64)?;
        let nature = integer(nature.as_ref()?, 1, 5)?;
        optional_text(code, 50)?;
        text(name.as_ref()?, 500)?;
        optional_text(unit, 50)?;
        let rate = optional_text(vat_rate, 10)?;
        if no <= previous_no {
            return None;
        }
        previous_no = no;
        let mut line_json = Vec::with_capacity(256);
        emit(&line_object, LINE, [None; 11], &mut line_json)?;
        lines_json.push(line_json);
        if nature == 4 {
            // A note carries no amounts (and its decimals need not be checked further).
            let has_amounts = [quantity, unit_price, discount_rate, discount_amount, amount]
                .iter()
                .any(|field| field.is_some());
            if has_amounts || rate.is_some() {
                return None;
            }
            continue;
        }
        if discount_rate.is_some() {
            return None; // rate x gross leaves the exact range here: the reference rules decide
        }
        match &rate {
            None if needs_rate => return None,
            Some(_) if !rated => return None,
            Some(rate) if vat_percent(rate).is_none() => return None,
            _ => {}
        }
        let line_amount = checker.required(amount, true)?;
        let quantity = checker.value(quantity, false)?;
        let unit_price = checker.value(unit_price, false)?;
        let discount = checker.value(discount_amount, true)?;
        match (quantity, unit_price) {
            (Some(quantity), Some(unit_price)) => {
                let mut expected = quantity.mul6(unit_price)?;
                if let Some(discount) = discount {
                    expected = expected.sub(discount)?;
                }
                if line_amount.sub(expected)?.abs() > checker.unit {
                    return None;
                }
            }
            _ if nature != 3 => return None,
            _ => {}
        }
        let mut signed = line_amount;
        if nature == 3 {
            discount_total = discount_total.add(line_amount)?;
            signed = line_amount.neg();
        }
        match rate {
            None => unrated_total = unrated_total.add(signed)?,
            Some(rate) => match by_rate.iter_mut().find(|(known, _, _)| *known == rate) {
                Some(entry) => {
                    entry.1 = entry.1.add(signed)?;
                    entry.2 += 1;
                }
                None => by_rate.push((rate, signed, 1)),
            },
        }
    }

    // -- totals ----------------------------------------------------------------------------------
    let totals_object = members(totals.as_ref()?, TOTALS, TOTALS_NULLABLE)?;
    let [before_tax, summaries, discount, tax, in_words, payable] = &totals_object.fields;
    optional_text(in_words, 255)?;
    let mut seen = vec![false; by_rate.len()];
    let mut stated_taxable = Fx::ZERO;
    let mut stated_tax = Fx::ZERO;
    let mut summaries_json = Vec::new();
    if let Some(summaries) = summaries {
        let summaries = summaries.cast_exact::<PyList>().ok()?;
        if summaries.len() > MAX_RATE_SUMMARIES {
            return None;
        }
        let mut items = Vec::with_capacity(summaries.len());
        for summary in summaries.iter() {
            let summary_object = members(&summary, SUMMARY, [false; 3])?;
            let [rate_tax, taxable, rate] = &summary_object.fields;
            let rate = text(rate.as_ref()?, 10)?;
            let taxable = checker.required(taxable, true)?;
            let rate_tax = checker.required(rate_tax, true)?;
            stated_taxable = stated_taxable.add(taxable)?;
            stated_tax = stated_tax.add(rate_tax)?;
            let percent = vat_percent(&rate)?;
            let index = by_rate.iter().position(|(known, _, _)| *known == rate)?;
            if seen[index] {
                return None;
            }
            seen[index] = true;
            let (_, line_sum, line_count) = &by_rate[index];
            if taxable != *line_sum {
                return None;
            }
            let expected = taxable.percent_of(percent)?;
            // (n + 1) / 2 units for n lines at a non-zero rate (docs/invoice-rules.md).
            let tolerance = if percent == Fx::ZERO {
                Fx::ZERO
            } else {
                Fx(checker.unit.0 * (line_count + 1) / 2)
            };
            if rate_tax.sub(expected)?.abs() > tolerance {
                return None;
            }
            let mut item = Vec::with_capacity(96);
            emit(&summary_object, SUMMARY, [None; 3], &mut item)?;
            items.push(item);
        }
        emit_list(&items, &mut summaries_json);
    }
    if seen.contains(&false) {
        return None;
    }
    let before_tax_value = checker.required(before_tax, true)?;
    let tax_value = checker.required(tax, true)?;
    let payable_value = checker.required(payable, true)?;
    let discount = checker.value(discount, true)?;
    if before_tax_value != stated_taxable.add(unrated_total)?
        || tax_value != stated_tax
        || discount.is_some_and(|discount| discount != discount_total)
        || payable_value != before_tax_value.add(tax_value)?
    {
        return None;
    }
    let mut totals_json = Vec::with_capacity(256 + summaries_json.len());
    let by_rate_json = summaries.as_ref().map(|_| summaries_json.as_slice());
    emit(
        &totals_object,
        TOTALS,
        [None, by_rate_json, None, None, None, None],
        &mut totals_json,
    )?;

    let mut all_lines = Vec::with_capacity(lines_json.iter().map(Vec::len).sum::<usize>() + 16);
    emit_list(&lines_json, &mut all_lines);
    emit(
        &object,
        INVOICE,
        [
            present(&buyer_json),
            None,
            None,
            None,
            Some(all_lines.as_slice()),
            None,
            None,
            present(&related_json),
            Some(seller_json.as_slice()),
            None,
            None,
            Some(totals_json.as_slice()),
        ],
        out,
    )?;
    Some(Summary {
        template,
        symbol,
        number,
        issued_date,
        issued_ordinal: issued,
        seller_tax_code,
        total_payable: text(payable.as_ref()?, 23)?,
        tax_amount: text(tax.as_ref()?, 23)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_match_python() {
        // date(1970, 1, 1).toordinal() == 719163; date(2024, 2, 29).toordinal() == 738945
        assert_eq!(date_ordinal("1970-01-01"), Some((719_163, 1970)));
        assert_eq!(date_ordinal("2024-02-29"), Some((738_945, 2024)));
        assert_eq!(date_ordinal("2023-02-29"), None);
        assert_eq!(date_ordinal("0000-01-01"), None);
        assert_eq!(date_ordinal("2024-13-01"), None);
    }

    #[test]
    fn member_names_are_in_canonical_order() {
        for names in [
            &INVOICE[..],
            &SELLER,
            &BUYER,
            &LINE,
            &TOTALS,
            &SUMMARY,
            &RELATED,
        ] {
            assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "{names:?}");
        }
    }

    #[test]
    fn vat_rates() {
        assert_eq!(vat_percent("10%"), Some(Fx(10 * ONE)));
        assert_eq!(vat_percent("KHAC:5.25"), Some(Fx(5 * ONE + ONE / 4)));
        assert_eq!(vat_percent("KHAC:5.2"), None);
        assert_eq!(vat_percent("KHAC:105.00"), None);
        assert_eq!(vat_percent("7%"), None);
    }
}
