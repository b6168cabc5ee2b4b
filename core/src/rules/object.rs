//! JSON objects against their field tables (fields.rs), and writing them back in RFC 8785 form.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use super::fields::Member;
use crate::canonical::write_string;

pub type Field<'py> = Option<Bound<'py, PyAny>>;

/// A JSON object's members in the order of its table, and which of them were null.
pub struct Obj<'py, const N: usize> {
    pub fields: [Field<'py>; N],
    null: [bool; N],
}

/// The members of a JSON object, `None` unless it is a plain dict with only the table's names
/// (the model forbids extra fields), every required member present, null only where the table
/// allows it, and every other value of its member's kind.
pub fn members<'py, const N: usize>(
    value: &Bound<'py, PyAny>,
    table: &[Member; N],
) -> Option<Obj<'py, N>> {
    let dict = value.cast_exact::<PyDict>().ok()?;
    let mut found = Obj {
        fields: std::array::from_fn(|_| None),
        null: [false; N],
    };
    for (key, item) in dict.iter() {
        let key = key.cast_exact::<PyString>().ok()?;
        let key = key.to_str().ok()?;
        let index = table.iter().position(|member| member.name == key)?;
        if item.is_none() {
            if !table[index].nullable {
                return None;
            }
            found.null[index] = true;
        } else {
            if !table[index].kind.admits(&item) {
                return None;
            }
            found.fields[index] = Some(item);
        }
    }
    let complete = table
        .iter()
        .zip(&found.fields)
        .all(|(member, field)| !member.required || field.is_some());
    complete.then_some(found)
}

/// Writes a checked object's canonical form: members in name order, text, integers and null
/// inline, objects and lists from `nested` (written when they were checked).
pub fn emit<const N: usize>(
    object: &Obj<'_, N>,
    table: &[Member; N],
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
        write_string(table[index].name, out);
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
pub fn emit_list(items: &[Vec<u8>], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
}

/// A nested member's written form, `None` when it was absent.
pub fn present(json: &[u8]) -> Option<&[u8]> {
    (!json.is_empty()).then_some(json)
}
