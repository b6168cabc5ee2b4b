//! The field tables: every member of every object of the model (einvoice/invoice/model.py), with
//! its JSON type, its limits and whether it may be absent or null. `members` checks an object
//! against its table, so these tables are the whole of the model's checks here; the sections
//! (header.rs, parties.rs, ...) check only the business rules on what they let through.
//!
//! They repeat the pydantic model by hand. `field_tables()` hands them to Python, where
//! tests/einvoice/invoice/test_compiled_fields.py compares them with the model's validation
//! schema: a member added, removed, resized or made optional on one side only fails that test.
//!
//! Members are listed in RFC 8785 order (names sorted): the order `emit` writes them in.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::scalars::{date_ordinal, integer, is_citizen_id, is_currency, string, text_fits};
use crate::decimal;

pub const MAX_LINES: usize = 1000;
const MAX_RATE_SUMMARIES: usize = 20;
const INVOICE_NUMBER: Kind = Kind::Integer(1, 99_999_999);

/// What a member's value must be (the model's type and constraints).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Non-empty text of at most this many characters (code points, as Python counts them).
    Text(usize),
    /// An integer (never a bool) in this range, both ends included.
    Integer(i64, i64),
    /// One of these strings (a `Literal`).
    OneOf(&'static [&'static str]),
    /// A decimal string of `DECIMAL_PATTERN` (values beyond the exact range are refused here).
    Decimal,
    /// `YYYY-MM-DD`, a real calendar day.
    Date,
    /// Three capital letters.
    Currency,
    /// Twelve digits.
    CitizenId,
    /// An object of the named table, checked against it by the section that reads it.
    Object(&'static str),
    /// A list of objects of the named table, with at least `min` and at most `max` items.
    List {
        min: usize,
        max: usize,
        of: &'static str,
    },
}

/// One member of an object.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub name: &'static str,
    pub kind: Kind,
    /// Must be present (pydantic: not `NotRequired`).
    pub required: bool,
    /// May be null (pydantic: `X | None`); null then reads as absent.
    pub nullable: bool,
}

const fn required(name: &'static str, kind: Kind) -> Member {
    Member {
        name,
        kind,
        required: true,
        nullable: false,
    }
}

/// May be absent, but not null.
const fn optional(name: &'static str, kind: Kind) -> Member {
    Member {
        name,
        kind,
        required: false,
        nullable: false,
    }
}

/// May be absent or null.
const fn nullable(name: &'static str, kind: Kind) -> Member {
    Member {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

use Kind::{CitizenId, Currency, Date, Decimal, Integer, List, Object, OneOf, Text};

pub const INVOICE: [Member; 12] = [
    optional("buyer", Object("Buyer")),
    optional("currency", Currency),
    nullable("exchange_rate", Decimal),
    required("issued_date", Date),
    required(
        "lines",
        List {
            min: 1,
            max: MAX_LINES,
            of: "Line",
        },
    ),
    required("number", INVOICE_NUMBER),
    nullable("original", Object("Original")),
    nullable("payment_method", Text(50)),
    required("seller", Object("Seller")),
    required("symbol", Text(6)),
    required("template", Text(1)),
    required("totals", Object("Totals")),
];

pub const SELLER: [Member; 6] = [
    required("address", Text(400)),
    nullable("bank_account", Text(30)),
    nullable("email", Text(50)),
    required("name", Text(400)),
    nullable("phone", Text(20)),
    required("tax_code", Text(14)),
];

pub const BUYER: [Member; 4] = [
    nullable("address", Text(400)),
    nullable("citizen_id", CitizenId),
    nullable("name", Text(400)),
    nullable("tax_code", Text(14)),
];

pub const LINE: [Member; 11] = [
    nullable("amount", Decimal),
    nullable("code", Text(50)),
    nullable("discount_amount", Decimal),
    nullable("discount_rate", Decimal),
    required("name", Text(500)),
    required("nature", Integer(1, 5)),
    required("no", Integer(1, MAX_LINES as i64)),
    nullable("quantity", Decimal),
    nullable("unit", Text(50)),
    nullable("unit_price", Decimal),
    nullable("vat_rate", Text(10)),
];

pub const TOTALS: [Member; 6] = [
    required("amount_before_tax", Decimal),
    optional(
        "by_rate",
        List {
            min: 0,
            max: MAX_RATE_SUMMARIES,
            of: "RateSummary",
        },
    ),
    nullable("discount_amount", Decimal),
    required("tax_amount", Decimal),
    nullable("total_in_words", Text(255)),
    required("total_payable", Decimal),
];

pub const RATE_SUMMARY: [Member; 3] = [
    required("tax_amount", Decimal),
    required("taxable_amount", Decimal),
    required("vat_rate", Text(10)),
];

pub const ORIGINAL: [Member; 5] = [
    required("issued_date", Date),
    required("number", INVOICE_NUMBER),
    required("relation", OneOf(&["adjusts", "replaces"])),
    required("symbol", Text(6)),
    required("template", Text(1)),
];

/// Every table by the name of its TypedDict in model.py.
pub const TABLES: [(&str, &[Member]); 7] = [
    ("Invoice", &INVOICE),
    ("Seller", &SELLER),
    ("Buyer", &BUYER),
    ("Line", &LINE),
    ("Totals", &TOTALS),
    ("RateSummary", &RATE_SUMMARY),
    ("Original", &ORIGINAL),
];

impl Kind {
    /// Whether a (non-null) value is of this kind.
    pub fn admits(self, value: &Bound<'_, PyAny>) -> bool {
        match self {
            Text(max) => text_fits(value, max),
            Integer(low, high) => integer(value, low, high).is_some(),
            OneOf(allowed) => string(value).is_some_and(|text| allowed.contains(&text)),
            Decimal => string(value).is_some_and(|text| decimal::parse(text).is_some()),
            Date => string(value).is_some_and(|text| date_ordinal(text).is_some()),
            Currency => string(value).is_some_and(is_currency),
            CitizenId => string(value).is_some_and(is_citizen_id),
            Object(_) => true,
            List { min, max, .. } => value
                .cast_exact::<PyList>()
                .is_ok_and(|list| (min..=max).contains(&list.len())),
        }
    }

    /// Its name and parameters as `field_tables()` gives them.
    fn describe<'py>(self, py: Python<'py>) -> PyResult<(&'static str, Bound<'py, PyTuple>)> {
        Ok(match self {
            Text(max) => ("text", (1, max).into_pyobject(py)?),
            Integer(low, high) => ("integer", (low, high).into_pyobject(py)?),
            OneOf(allowed) => ("one_of", PyTuple::new(py, allowed)?),
            Decimal => ("decimal", PyTuple::empty(py)),
            Date => ("date", PyTuple::empty(py)),
            Currency => ("currency", PyTuple::empty(py)),
            CitizenId => ("citizen_id", PyTuple::empty(py)),
            Object(name) => ("object", (name,).into_pyobject(py)?),
            List { min, max, of } => ("list", (min, max, of).into_pyobject(py)?),
        })
    }
}

/// Every table as `{object: {member: (required, nullable, kind, parameters)}}`.
pub fn describe(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let tables = PyDict::new(py);
    for (object, members) in TABLES {
        let table = PyDict::new(py);
        for member in members {
            let (kind, parameters) = member.kind.describe(py)?;
            table.set_item(
                member.name,
                (member.required, member.nullable, kind, parameters),
            )?;
        }
        tables.set_item(object, table)?;
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_in_canonical_order() {
        for (object, members) in TABLES {
            let ordered = members.windows(2).all(|pair| pair[0].name < pair[1].name);
            assert!(ordered, "{object}");
        }
    }

    #[test]
    fn nested_objects_have_tables() {
        for (_, members) in TABLES {
            for member in members {
                if let Object(name) | List { of: name, .. } = member.kind {
                    assert!(TABLES.iter().any(|(object, _)| *object == name), "{name}");
                }
            }
        }
    }

    #[test]
    fn required_members_are_never_null() {
        for (_, members) in TABLES {
            assert!(members
                .iter()
                .all(|member| !(member.required && member.nullable)));
        }
    }
}
