//! The parties: seller (NBan) and buyer (NMua). Their tax codes, when given, carry a valid check
//! digit (taxcode.rs); the rest of their members is the field tables'.

use pyo3::prelude::*;

use super::fields::{BUYER, SELLER};
use super::object::{emit, members, Field};
use super::scalars::string;
use crate::taxcode;

/// The seller, checked.
pub struct Seller {
    pub tax_code: String,
    pub json: Vec<u8>,
}

/// The seller, whose tax code must be valid.
pub fn check_seller(seller: &Bound<'_, PyAny>) -> Option<Seller> {
    let object = members(seller, &SELLER)?;
    let [_address, _bank_account, _email, _name, _phone, tax_code] = &object.fields;
    let tax_code = string(tax_code.as_ref()?)?;
    if !taxcode::is_valid(tax_code) {
        return None;
    }
    let mut json = Vec::with_capacity(256);
    emit(&object, &SELLER, [None; 6], &mut json)?;
    Some(Seller {
        tax_code: tax_code.to_owned(),
        json,
    })
}

/// The buyer's written form (empty when there is none); its tax code, when given, must be valid.
pub fn check_buyer(buyer: &Field<'_>) -> Option<Vec<u8>> {
    let mut json = Vec::new();
    let Some(buyer) = buyer else {
        return Some(json);
    };
    let object = members(buyer, &BUYER)?;
    let [_address, _citizen_id, _name, tax_code] = &object.fields;
    if let Some(code) = tax_code {
        if !taxcode::is_valid(string(code)?) {
            return None;
        }
    }
    json.reserve(256);
    emit(&object, &BUYER, [None; 4], &mut json)?;
    Some(json)
}
