//! Exact decimal arithmetic for the rules, as fixed point with 12 decimals in an i128.
//!
//! The reference rules use Python's `Decimal` with its default context: 28 significant digits,
//! so a result with more digits is rounded. Here every value is kept below 10^28 units of 10^-12;
//! every value the rules meet has at most 12 decimals, so its Python coefficient then has at most
//! 28 digits and Python computed it exactly too. Anything larger is `None`: the fast path steps
//! aside and the reference rules decide.

/// 10^28 units of 10^-12: values up to 10^16.
const LIMIT: i128 = 10_000_000_000_000_000_000_000_000_000;
pub const ONE: i128 = 1_000_000_000_000;
const MICRO: i128 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fx(pub i128);

fn bounded(value: i128) -> Option<Fx> {
    if value.abs() < LIMIT {
        Some(Fx(value))
    } else {
        None
    }
}

impl Fx {
    pub const ZERO: Fx = Fx(0);

    pub fn add(self, other: Fx) -> Option<Fx> {
        bounded(self.0.checked_add(other.0)?)
    }

    pub fn sub(self, other: Fx) -> Option<Fx> {
        bounded(self.0.checked_sub(other.0)?)
    }

    pub fn neg(self) -> Fx {
        Fx(-self.0)
    }

    pub fn abs(self) -> Fx {
        Fx(self.0.abs())
    }

    /// The product of two values of at most 6 decimals each (exact: at most 12 decimals).
    pub fn mul6(self, other: Fx) -> Option<Fx> {
        if self.0 % MICRO != 0 || other.0 % MICRO != 0 {
            return None;
        }
        bounded((self.0 / MICRO).checked_mul(other.0 / MICRO)?)
    }

    /// `self` x `percent` / 100, for a value of at most 6 decimals and a percent of at most 2.
    pub fn percent_of(self, percent: Fx) -> Option<Fx> {
        let hundredths = percent.0 / 10_000_000_000;
        if self.0 % MICRO != 0 || percent.0 % 10_000_000_000 != 0 {
            return None;
        }
        // (v6 / 10^6) x (p2 / 10^2) / 10^2 = v6 x p2 / 10^10, i.e. v6 x p2 units of 10^-10,
        // times 100 in units of 10^-12.
        bounded((self.0 / MICRO).checked_mul(hundredths)?.checked_mul(100)?)
    }

    pub fn is_whole(self) -> bool {
        self.0 % ONE == 0
    }
}

/// A decimal string of the API: an optional minus, at most 21 digits of which at most 6 after
/// the point (the model's pattern). Returns the value and whether it was written with a minus.
pub fn parse(text: &str) -> Option<(Fx, bool)> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(point) => (&digits[..point], Some(&digits[point + 1..])),
        None => (digits, None),
    };
    let fraction = fraction.unwrap_or(&[]);
    let had_point = digits.len() != whole.len();
    if whole.is_empty()
        || (had_point && fraction.is_empty())
        || fraction.len() > 6
        || whole.len() + fraction.len() > 21
    {
        return None;
    }
    let mut value: i128 = 0;
    for &b in whole.iter().chain(fraction.iter()) {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i128::from(b - b'0');
    }
    value *= 10i128.pow(12 - fraction.len() as u32);
    let value = bounded(value)?;
    Some((if negative { value.neg() } else { value }, negative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_model_pattern() {
        assert_eq!(parse("1500.5"), Some((Fx(1_500_500_000_000_000), false)));
        assert_eq!(parse("-0"), Some((Fx(0), true)));
        assert_eq!(parse("1."), None);
        assert_eq!(parse(".5"), None);
        assert_eq!(parse("1.1234567"), None);
        assert_eq!(parse("1e5"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("-"), None);
        // 17 digits before the point: beyond the exact range, left to the reference rules.
        assert_eq!(parse("10000000000000000"), None);
    }

    #[test]
    fn multiplies_exactly() {
        let (a, _) = parse("2.5").unwrap();
        let (b, _) = parse("0.000001").unwrap();
        assert_eq!(a.mul6(b), Some(Fx(2_500_000)));
        let (ten, _) = parse("10").unwrap();
        let (amount, _) = parse("12345").unwrap();
        assert_eq!(amount.percent_of(ten), Some(Fx(1_234_500_000_000_000)));
    }
}
