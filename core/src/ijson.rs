//! I-JSON's unique member names (RFC 7493 2.3): where a JSON document first repeats a name.
//!
//! orjson, like most parsers, silently keeps the last of two members of the same name, so a
//! document could mean one thing to the service and another to the software that wrote or signed
//! it (RFC 8785's canonical form is defined for I-JSON only; RFC 7515 4 has JWS readers refuse
//! repeated header names). The service parses with orjson, then asks this scan over the same
//! bytes whether any object repeats a name; signing/strict_json.py decides and explains.
//!
//! A hand-written scan rather than serde_json with a visitor: serde_json's walk recurses once per
//! level and reads every scalar into a value (UTF-8 checks, escapes, floats), which measured as
//! slow as orjson building the whole document; this one only finds where strings end, keeps an
//! explicit stack (no recursion, so no stack to overflow), and reads names alone. Names are
//! compared unescaped ("a" and "\u0061" are one name): in a short list while an object is small,
//! in a hash set beyond, so an object of 100,000 names costs linear time, not quadratic.
//!
//! It checks JSON's grammar (RFC 8259) and refuses what does not follow it, but not what orjson
//! checks on top (UTF-8 inside strings, surrogates in values, numbers beyond a double): callers
//! parse with orjson first. Names must be well-formed, surrogate pairs included, since they are
//! compared. Nesting stops at `MAX_DEPTH` levels (a submission has 5).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The deepest nesting of arrays and objects read.
pub const MAX_DEPTH: usize = 64;

/// Names kept in a list up to this many per object, in a hash set beyond: fewer hashes for the
/// small objects every invoice is made of, linear time for large ones.
const FEW_NAMES: usize = 16;

/// Not JSON, or nested too deep: what and where (a byte offset).
#[derive(Debug)]
pub struct Error {
    what: &'static str,
    at: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "{} at byte {}", self.what, self.at)
    }
}

/// The JSON pointer (RFC 6901) of the first member, in document order, whose name an earlier
/// member of the same object has already: the object's pointer plus the name. `Ok(None)` when
/// every object's names are unique. An error when the bytes break JSON's grammar before that
/// member (the scan stops there) or nest deeper than `MAX_DEPTH` levels.
pub fn first_duplicate(data: &[u8]) -> Result<Option<String>, Error> {
    let mut scan = Scan { data, at: 0 };
    let mut open: Vec<Frame> = Vec::new();
    // The names of the open objects, outermost first: no allocation per object.
    let mut names: Vec<Cow<[u8]>> = Vec::new();
    scan.skip_whitespace();
    loop {
        // A value starts here.
        match scan.next()? {
            b'{' => {
                scan.enter(open.len())?;
                scan.skip_whitespace();
                if !scan.eat(b'}') {
                    let name = scan.name()?;
                    scan.colon()?;
                    open.push(Frame::Object {
                        first: names.len(),
                        many: None,
                        current: name.clone(),
                    });
                    names.push(name);
                    continue;
                }
            }
            b'[' => {
                scan.enter(open.len())?;
                scan.skip_whitespace();
                if !scan.eat(b']') {
                    open.push(Frame::Array { index: 0 });
                    continue;
                }
            }
            b'"' => scan.rest_of_string()?,
            b'-' | b'0'..=b'9' => scan.rest_of_number()?,
            b't' => scan.rest_of_literal(b"rue")?,
            b'f' => scan.rest_of_literal(b"alse")?,
            b'n' => scan.rest_of_literal(b"ull")?,
            _ => return Err(scan.error_before("expected a value")),
        }
        // After a value: close what ends here, up to where the next value starts.
        loop {
            scan.skip_whitespace();
            let Some(frame) = open.last_mut() else {
                if scan.at < data.len() {
                    return Err(scan.error("unexpected content after the value"));
                }
                return Ok(None);
            };
            match (frame, scan.next()?) {
                (Frame::Array { index }, b',') => {
                    *index += 1;
                    scan.skip_whitespace();
                    break;
                }
                (
                    Frame::Object {
                        first,
                        many,
                        current,
                    },
                    b',',
                ) => {
                    scan.skip_whitespace();
                    let name = scan.name()?;
                    if !insert(&mut names, *first, many, name.clone()) {
                        return Ok(Some(pointer(&open[..open.len() - 1], &name)));
                    }
                    *current = name;
                    scan.colon()?;
                    break;
                }
                (Frame::Array { .. }, b']') => {
                    open.pop();
                }
                (Frame::Object { first, .. }, b'}') => {
                    names.truncate(*first);
                    open.pop();
                }
                _ => {
                    return Err(scan.error_before("expected ',' or the end of the array or object"))
                }
            }
        }
    }
}

/// An array or object being read.
enum Frame<'a> {
    Array {
        index: usize,
    },
    Object {
        /// Where its names start in the open objects' names, while it has few.
        first: usize,
        /// Its names, once it has many.
        many: Option<HashSet<Cow<'a, [u8]>>>,
        /// The name of the member being read.
        current: Cow<'a, [u8]>,
    },
}

/// Adds `name` to an object's names (`names[first..]`, or `many`); false when it is there.
fn insert<'a>(
    names: &mut Vec<Cow<'a, [u8]>>,
    first: usize,
    many: &mut Option<HashSet<Cow<'a, [u8]>>>,
    name: Cow<'a, [u8]>,
) -> bool {
    if let Some(set) = many {
        return set.insert(name);
    }
    if names[first..].contains(&name) {
        return false;
    }
    if names.len() - first < FEW_NAMES {
        names.push(name);
    } else {
        let mut set: HashSet<_> = names.drain(first..).collect();
        set.insert(name);
        *many = Some(set);
    }
    true
}

/// The pointer to member `name` of the object inside `outer`.
fn pointer(outer: &[Frame], name: &[u8]) -> String {
    let mut out = String::new();
    for frame in outer {
        match frame {
            Frame::Array { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Frame::Object { current, .. } => push_token(&mut out, current),
        }
    }
    push_token(&mut out, name);
    out
}

fn push_token(out: &mut String, name: &[u8]) {
    out.push('/');
    // Names are UTF-8 when orjson has read the document; lossy only for bytes it refuses.
    for c in String::from_utf8_lossy(name).chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(c),
        }
    }
}

/// Bytes that end the plain run of a string: its quote, an escape, a control character.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

struct Scan<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn error(&self, what: &'static str) -> Error {
        Error { what, at: self.at }
    }

    /// An error about the byte just taken.
    fn error_before(&self, what: &'static str) -> Error {
        Error {
            what,
            at: self.at - 1,
        }
    }

    fn next(&mut self) -> Result<u8, Error> {
        let byte = *self
            .data
            .get(self.at)
            .ok_or_else(|| self.error("unexpected end of data"))?;
        self.at += 1;
        Ok(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.data.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.data.get(self.at) {
            self.at += 1;
        }
    }

    /// An array or object opens inside `open` others.
    fn enter(&self, open: usize) -> Result<(), Error> {
        if open >= MAX_DEPTH {
            return Err(self.error_before("nested deeper than 64 levels"));
        }
        Ok(())
    }

    fn colon(&mut self) -> Result<(), Error> {
        self.skip_whitespace();
        if self.next()? != b':' {
            return Err(self.error_before("expected ':'"));
        }
        self.skip_whitespace();
        Ok(())
    }

    /// The end of a plain run of string bytes from here: eight bytes at a time, then one by one.
    fn plain_run(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        while let Some(chunk) = self.data.get(self.at..self.at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            // Per byte, the high bit set where it is '"', '\\' or below 0x20: exact in the lowest
            // such byte (borrows only spill upwards), the one wanted.
            let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
            let stops = zero(word ^ (ONES * u64::from(b'"')))
                | zero(word ^ (ONES * u64::from(b'\\')))
                | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
            if stops != 0 {
                self.at += (stops.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
        while let Some(&byte) = self.data.get(self.at) {
            if STRING_STOP[usize::from(byte)] {
                return;
            }
            self.at += 1;
        }
    }

    /// The rest of a string value (its opening quote taken): grammar only.
    fn rest_of_string(&mut self) -> Result<(), Error> {
        loop {
            self.plain_run();
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => {
                    self.escape()?;
                }
                _ => return Err(self.error_before("control character in a string")),
            }
        }
    }

    /// A member name, unescaped: borrowed from the input unless it has escapes.
    fn name(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        if self.next()? != b'"' {
            return Err(self.error_before("expected a member name"));
        }
        let start = self.at;
        self.plain_run();
        if self.data.get(self.at) == Some(&b'"') {
            self.at += 1;
            return Ok(Cow::Borrowed(&self.data[start..self.at - 1]));
        }
        let mut name = self.data[start..self.at].to_vec();
        loop {
            match self.next()? {
                b'"' => return Ok(Cow::Owned(name)),
                b'\\' => {
                    let c = self.escape()?.ok_or_else(|| {
                        self.error_before("a surrogate without its pair in a member name")
                    })?;
                    name.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => return Err(self.error_before("control character in a string")),
            }
            let run = self.at;
            self.plain_run();
            name.extend_from_slice(&self.data[run..self.at]);
        }
    }

    /// An escape (its backslash taken): its character, or `None` for a surrogate not paired.
    fn escape(&mut self) -> Result<Option<char>, Error> {
        let c = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                if !(0xD800..0xDC00).contains(&unit) {
                    return Ok(char::from_u32(unit)); // None for a lone low surrogate
                }
                let rest = self.data.get(self.at..self.at + 2);
                if rest != Some(b"\\u") {
                    return Ok(None);
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..0xE000).contains(&low) {
                    return Ok(None);
                }
                return Ok(char::from_u32(
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00),
                ));
            }
            _ => return Err(self.error_before("not an escape")),
        };
        Ok(Some(c))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?)
                .to_digit(16)
                .ok_or_else(|| self.error_before("expected a hex digit"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// The rest of a number (its first byte taken, a digit or '-').
    fn rest_of_number(&mut self) -> Result<(), Error> {
        let first = self.data[self.at - 1];
        let leading = if first == b'-' { self.next()? } else { first };
        match leading {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(self.error_before("expected a digit")),
        }
        if self.eat(b'.') {
            self.digit()?;
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.digit()?;
            self.digits();
        }
        Ok(())
    }

    fn digit(&mut self) -> Result<(), Error> {
        if !self.next()?.is_ascii_digit() {
            return Err(self.error_before("expected a digit"));
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.data.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
    }

    fn rest_of_literal(&mut self, rest: &[u8]) -> Result<(), Error> {
        if self.data.get(self.at..self.at + rest.len()) != Some(rest) {
            return Err(self.error("expected true, false or null"));
        }
        self.at += rest.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{first_duplicate, MAX_DEPTH};

    fn found(text: &str) -> Option<String> {
        first_duplicate(text.as_bytes()).expect("JSON")
    }

    #[test]
    fn unique_names_anywhere_are_fine() {
        assert_eq!(found(r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#), None);
        assert_eq!(
            found(r#" [1, "a\"\\", null, true, false, -0.5e-3, 1E+2, {}, [], {"":0}] "#),
            None
        );
        assert_eq!(found(r#""just text""#), None);
        assert_eq!(
            found(r#"{"a":1,"b":2,"\u0062c":3,"\ud83d\ude00":4,"😁":5}"#),
            None
        );
    }

    #[test]
    fn the_first_repeated_name_is_pointed_at() {
        assert_eq!(found(r#"{"a":1,"a":2}"#).as_deref(), Some("/a"));
        assert_eq!(
            found(r#"{"x":[0,{"y":{"b":1,"b":2}}],"x":1}"#).as_deref(),
            Some("/x/1/y/b")
        );
        assert_eq!(found(r#"[{}, {"":1,"":2}]"#).as_deref(), Some("/1/"));
        assert_eq!(
            found(r#"{"a":{"b":1},"a":{"b":1,"b":2}}"#).as_deref(),
            Some("/a")
        );
        // The scan stops there: what follows is not read.
        assert_eq!(found(r#"{"a":1,"a":2,"#).as_deref(), Some("/a"));
    }

    #[test]
    fn escaped_spellings_are_the_same_name() {
        assert_eq!(found(r#"{"a":1,"\u0061":2}"#).as_deref(), Some("/a"));
        assert_eq!(found(r#"{"\u00e9":1,"é":2}"#).as_deref(), Some("/é"));
        assert_eq!(
            found(r#"{"\ud83d\ude00":1,"😀":2}"#).as_deref(),
            Some("/😀")
        );
        assert_eq!(
            found(r#"{"a/b~c":1,"a\/b~c":2}"#).as_deref(),
            Some("/a~1b~0c")
        );
        assert_eq!(
            found(r#"{"x\ny":1,"x\u000Ay":2}"#).as_deref(),
            Some("/x\ny")
        );
    }

    #[test]
    fn large_objects_switch_to_a_set_and_still_find_repeats() {
        let names: Vec<String> = (0..1000).map(|i| format!("\"n{i}\":{i}")).collect();
        let unique = format!("{{{}}}", names.join(","));
        assert_eq!(found(&unique), None);
        let repeated = format!("{{{},\"n500\":0}}", names.join(","));
        assert_eq!(found(&repeated).as_deref(), Some("/n500"));
    }

    #[test]
    fn what_breaks_the_grammar_is_an_error() {
        for text in [
            "",
            " ",
            "{",
            "[",
            "]",
            "}",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            "[1,]",
            "[,1]",
            "[1] x",
            "[1][2]",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "True",
            r#"{a:1}"#,
            r#"{"a":1 "b":2}"#,
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"abc",
            "'a'",
            "\u{feff}{}",
            r#"{"\ud800":1}"#,
            r#"{"\udc00":1}"#,
            r#"{"\ud800\u0041":1}"#,
        ] {
            assert!(first_duplicate(text.as_bytes()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let at = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(found(&at(MAX_DEPTH)), None);
        assert_eq!(
            found(&format!("{}{{}}{}", "[".repeat(63), "]".repeat(63))),
            None
        );
        let error = first_duplicate(at(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), "nested deeper than 64 levels at byte 64");
        let deeper = format!("{}{{\"a\":{{}}}}{}", "[".repeat(63), "]".repeat(63));
        assert!(first_duplicate(deeper.as_bytes()).is_err());
        // Refused at the 65th level, whatever follows.
        assert!(first_duplicate(at(1_000_000).as_bytes()).is_err());
    }
}
