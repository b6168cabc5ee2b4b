//! The original invoice a replacing or adjusting one corrects (TTHDLQuan): a well-formed
//! reference to another invoice issued no later than this one.

use pyo3::prelude::*;

use super::fields::ORIGINAL;
use super::header::{symbol_parts, template_digit, Header};
use super::object::{emit, members, Field};
use super::scalars::{date_ordinal, string};

/// The original invoice, checked.
pub struct Original {
    /// Whether this invoice adjusts the original (and so may carry negative amounts).
    pub adjusting: bool,
    /// Its written form, empty when there is none.
    pub json: Vec<u8>,
}

/// The original invoice, if any: its template is a digit, its symbol well formed, it was issued
/// no later than this invoice, and it is not this invoice.
pub fn check_original(original: &Field<'_>, header: &Header) -> Option<Original> {
    let Some(original) = original else {
        return Some(Original {
            adjusting: false,
            json: Vec::new(),
        });
    };
    let object = members(original, &ORIGINAL)?;
    let [issued_date, number, relation, symbol, template] = &object.fields;
    let template = string(template.as_ref()?)?;
    let symbol = string(symbol.as_ref()?)?;
    let number: i64 = number.as_ref()?.extract().ok()?;
    let (issued, _) = date_ordinal(string(issued_date.as_ref()?)?)?;
    let is_itself =
        template == header.template && symbol == header.symbol && number == header.number;
    if !template_digit(template)
        || symbol_parts(symbol).is_none()
        || issued > header.issued
        || is_itself
    {
        return None;
    }
    let mut json = Vec::new();
    emit(&object, &ORIGINAL, [None; 5], &mut json)?;
    Some(Original {
        adjusting: string(relation.as_ref()?)? == "adjusts",
        json,
    })
}
