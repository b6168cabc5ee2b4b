//! Money, quantities and VAT rates, shared by the lines and the totals.

use super::object::Field;
use super::scalars::string;
use crate::decimal::{self, Fx, ONE};

/// How an invoice's decimals are read: a minus only on an adjusting invoice, money in whole
/// dong when the currency is VND, and amounts rounded to one unit of the currency (1 dong, or
/// 0.01 of another currency).
pub struct AmountRules {
    pub vnd: bool,
    adjusting: bool,
    pub unit: Fx,
}

impl AmountRules {
    pub fn new(vnd: bool, adjusting: bool) -> Self {
        AmountRules {
            vnd,
            adjusting,
            unit: if vnd { Fx(ONE) } else { Fx(ONE / 100) },
        }
    }

    /// A decimal member's value (`None` when absent) after the checks every one shares: its
    /// sign, and whole dong for `money`.
    pub fn value(&self, field: &Field<'_>, money: bool) -> Option<Option<Fx>> {
        let Some(field) = field else {
            return Some(None);
        };
        let (number, negative) = decimal::parse(string(field)?)?;
        if negative && !self.adjusting {
            return None;
        }
        if money && self.vnd && !number.is_whole() {
            return None;
        }
        Some(Some(number))
    }

    /// A decimal member that must be present.
    pub fn required(&self, field: &Field<'_>, money: bool) -> Option<Fx> {
        self.value(field, money)?
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_rates() {
        assert_eq!(vat_percent("10%"), Some(Fx(10 * ONE)));
        assert_eq!(vat_percent("KHAC:5.25"), Some(Fx(5 * ONE + ONE / 4)));
        assert_eq!(vat_percent("KHAC:5.2"), None);
        assert_eq!(vat_percent("KHAC:105.00"), None);
        assert_eq!(vat_percent("7%"), None);
    }
}
