//! Reading single JSON values: strings, integers, calendar dates and the fixed text shapes of the
//! model. Python's JSON parser gives exact `str` and `int`; anything else (a subclass, a float,
//! a bool) is refused, as the strict model refuses it.

use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};

/// The text of a string (`None` for anything else, or for a lone surrogate: not JSON text).
pub fn string<'a>(value: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    value.cast_exact::<PyString>().ok()?.to_str().ok()
}

/// Non-empty text of at most `max` characters (code points, as Python counts them).
pub fn text_fits(value: &Bound<'_, PyAny>, max: usize) -> bool {
    string(value).is_some_and(|text| {
        if text.len() <= max {
            !text.is_empty()
        } else {
            text.chars().count() <= max
        }
    })
}

/// An integer in `low..=high`.
pub fn integer(value: &Bound<'_, PyAny>, low: i64, high: i64) -> Option<i64> {
    if !value.is_exact_instance_of::<PyInt>() {
        return None; // bool is an int subclass in Python; the model refuses it
    }
    let number: i64 = value.extract().ok()?;
    (low..=high).contains(&number).then_some(number)
}

/// `[A-Z]{3}`.
pub fn is_currency(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
}

/// `[0-9]{12}`.
pub fn is_citizen_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A `YYYY-MM-DD` calendar date as Python's `date.toordinal()`, and its year.
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
    fn fixed_shapes() {
        assert!(is_currency("VND") && !is_currency("vnd") && !is_currency("VNDX"));
        assert!(is_citizen_id("001203004005") && !is_citizen_id("00120300400"));
        assert!(!is_citizen_id("٠٠١٢٠٣٠٠٤٠٠٥"));
    }
}
