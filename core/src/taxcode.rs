//! Vietnamese tax codes: 10 digits, or 13 with the branch suffix `-NNN`, with a check digit
//! (the same reading as einvoice/invoice/taxcode.py).

const WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

pub fn is_valid(code: &str) -> bool {
    let bytes = code.as_bytes();
    let base = match bytes.len() {
        10 => bytes,
        14 if bytes[10] == b'-' => {
            let branch = &bytes[11..];
            if !branch.iter().all(u8::is_ascii_digit) || branch == b"000" {
                return false;
            }
            &bytes[..10]
        }
        _ => return false,
    };
    if !base.iter().all(u8::is_ascii_digit) || &base[2..9] == b"0000000" {
        return false;
    }
    let total: u32 = base[..9]
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = 10 - total % 11;
    check < 10 && u32::from(base[9] - b'0') == check
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn real_codes_and_altered_ones() {
        for code in [
            "0100233488",
            "0314409058",
            "0302431595",
            "0107001729",
            "0100233488-001",
        ] {
            assert!(is_valid(code), "{code}");
        }
        for code in [
            "0100233487",
            "0100233488-000",
            "010023348",
            "0100233488-01",
            "01002334880",
        ] {
            assert!(!is_valid(code), "{code}");
        }
    }
}
