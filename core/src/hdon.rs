//! Reading an HDon's DLHDon as the invoice model's raw input: the compiled twin of
//! `einvoice/hdon/fields.py`'s `invoice_of`, which stays the reference.
//!
//! The input is DLHDon in exclusive C14N (the bytes the service hashes anyway): a regular form
//! with no declaration, DOCTYPE, CDATA or comments, attributes in double quotes, every element
//! written as a start and an end tag, and only `&amp; &lt; &gt; &quot;` and character references
//! escaped. The field table comes from Python once (`DataReader(table)`), so the mapping lives in
//! one place. Whenever the reading could differ from the reference (a Unicode digit or space at a
//! value's edge, anything the C14N form should not hold), `read` returns `None` and the caller
//! uses the reference. Comments are invisible here (C14N without comments drops them, where
//! lxml's `.text` stops at one): the caller sends documents with comments to the reference.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Rate,
    Relation,
}

struct Field {
    name: Py<PyString>, // interned once: the same key object for every invoice
    path: Vec<String>,  // local names below the group's element
    kind: Kind,
}

struct Group {
    key: Option<String>, // None: the invoice's own header fields
    in_totals: bool,     // kept under `totals` (by_rate)
    path: Vec<String>,   // local names below DLHDon
    repeated: bool,
    direct: Vec<(String, usize)>, // a field whose element is a direct child: its local name
    nested: Vec<usize>,           // the others
    fields: Vec<Field>,
}

/// The field table, compiled: `[(key, in_totals, path, repeated, [(name, path, kind)])]`, paths
/// as lists of local names, kinds `text | integer | rate | relation`.
#[pyclass(frozen, module = "einvoice_core")]
pub struct DataReader {
    groups: Vec<Group>,
}

type FieldSpec = (String, Vec<String>, String);
type GroupSpec = (Option<String>, bool, Vec<String>, bool, Vec<FieldSpec>);

#[pymethods]
impl DataReader {
    #[new]
    fn new(py: Python<'_>, table: Vec<GroupSpec>) -> PyResult<Self> {
        let mut groups = Vec::with_capacity(table.len());
        for (key, in_totals, path, repeated, specs) in table {
            let mut fields = Vec::with_capacity(specs.len());
            let mut direct = Vec::new();
            let mut nested = Vec::new();
            for (index, (name, field_path, kind)) in specs.into_iter().enumerate() {
                let kind = match kind.as_str() {
                    "text" => Kind::Text,
                    "integer" => Kind::Integer,
                    "rate" => Kind::Rate,
                    "relation" => Kind::Relation,
                    other => {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "unknown field kind {other}"
                        )))
                    }
                };
                if field_path.len() == 1 {
                    direct.push((field_path[0].clone(), index));
                } else {
                    nested.push(index);
                }
                fields.push(Field {
                    name: PyString::intern(py, &name).unbind(),
                    path: field_path,
                    kind,
                });
            }
            groups.push(Group {
                key,
                in_totals,
                path,
                repeated,
                direct,
                nested,
                fields,
            });
        }
        Ok(DataReader { groups })
    }

    /// The invoice read from DLHDon's exclusive C14N bytes, its elements in `namespace` (None: no
    /// namespace); `None` when the reference must decide.
    #[pyo3(signature = (canonical, namespace))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        canonical: &[u8],
        namespace: Option<&str>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(tree) = Tree::parse(canonical, namespace) else {
            return Ok(None);
        };
        let invoice = PyDict::new(py);
        let root = 0;
        for group in &self.groups {
            let found = tree.elements(root, &group.path);
            let parent = if group.in_totals {
                match invoice.get_item("totals")? {
                    Some(existing) => existing.cast_into::<PyDict>()?,
                    None => {
                        let totals = PyDict::new(py);
                        invoice.set_item("totals", &totals)?;
                        totals
                    }
                }
            } else {
                invoice.clone()
            };
            match &group.key {
                None => {
                    if let Some(&first) = found.first() {
                        if !self.fill(&tree, first, group, &invoice)? {
                            return Ok(None);
                        }
                    }
                }
                Some(key) if group.repeated => {
                    if found.is_empty() && key != "lines" {
                        continue;
                    }
                    let items = PyList::empty(py);
                    for &element in &found {
                        let values = PyDict::new(py);
                        if !self.fill(&tree, element, group, &values)? {
                            return Ok(None);
                        }
                        items.append(values)?;
                    }
                    parent.set_item(key, items)?;
                }
                Some(key) => {
                    if let Some(&first) = found.first() {
                        let values = PyDict::new(py);
                        if !self.fill(&tree, first, group, &values)? {
                            return Ok(None);
                        }
                        parent.set_item(key, values)?;
                    }
                }
            }
        }
        Ok(Some(invoice))
    }
}

impl DataReader {
    /// The group's values under `element` into `values`, as the reference's `fields`: the first
    /// child of each name counts, an empty one is absent. False: the reference must decide.
    fn fill<'py>(
        &self,
        tree: &Tree,
        element: usize,
        group: &Group,
        values: &Bound<'py, PyDict>,
    ) -> PyResult<bool> {
        let mut seen = vec![false; group.fields.len()];
        for child in tree.children(element) {
            let found = tree.nodes[child].name.and_then(|name| {
                group
                    .direct
                    .iter()
                    .find(|(local, _)| same(local, name))
                    .map(|(_, index)| *index)
            });
            let Some(index) = found else {
                continue;
            };
            if seen[index] {
                continue;
            }
            seen[index] = true;
            if !put(values, &group.fields[index], &tree.nodes[child].text)? {
                return Ok(false);
            }
        }
        for &index in &group.nested {
            let field = &group.fields[index];
            if let Some(found) = tree.first_at(element, &field.path) {
                if !put(values, field, &tree.nodes[found].text)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Set `field` from an element's text; false when the reference must decide.
fn put(values: &Bound<'_, PyDict>, field: &Field, text: &str) -> PyResult<bool> {
    let name = field.name.bind(values.py());
    let Some(text) = strip(text) else {
        return Ok(false);
    };
    if text.is_empty() {
        return Ok(true); // absent
    }
    match field.kind {
        Kind::Text => values.set_item(name, text)?,
        Kind::Integer => {
            if !text.is_ascii() {
                return Ok(false); // Python's isdigit and int take other scripts' digits
            }
            if text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit()) {
                values.set_item(name, text.parse::<i64>().unwrap_or_default())?;
            } else {
                values.set_item(name, text)?;
            }
        }
        Kind::Rate => {
            if text.starts_with("KHAC:") && text.ends_with('%') {
                values.set_item(name, &text[..text.len() - 1])?;
            } else {
                values.set_item(name, text)?;
            }
        }
        Kind::Relation => {
            let value = match text {
                "1" => "replaces",
                "2" => "adjusts",
                other => other,
            };
            values.set_item(name, value)?;
        }
    }
    Ok(true)
}

/// The text without surrounding ASCII white space; None when a non-ASCII space is at an edge
/// (Python's `str.strip` would take it, and its set is not quite Rust's).
fn strip(text: &str) -> Option<&str> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let edge = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && c.is_whitespace());
    if edge(trimmed.chars().next()) || edge(trimmed.chars().next_back()) {
        return None;
    }
    Some(trimmed)
}

const NONE: usize = usize::MAX;

struct Node<'a> {
    name: Option<&'a str>, // the local name when in the wanted namespace, else None
    text: Cow<'a, str>,    // the text before the first child node (lxml's `.text`)
    first_child: usize,    // child elements as a list: NONE ends it
    last_child: usize,
    next_sibling: usize,
}

/// DLHDon's elements, parsed from its C14N bytes without copying what needs no unescaping.
struct Tree<'a> {
    nodes: Vec<Node<'a>>,
}

impl<'a> Tree<'a> {
    fn children(&self, parent: usize) -> impl Iterator<Item = usize> + '_ {
        let mut next = self.nodes[parent].first_child;
        std::iter::from_fn(move || {
            let current = next;
            (current != NONE).then(|| {
                next = self.nodes[current].next_sibling;
                current
            })
        })
    }

    fn elements(&self, parent: usize, path: &[String]) -> Vec<usize> {
        let mut found = vec![parent];
        for name in path {
            found = found
                .iter()
                .flat_map(|&element| self.children(element))
                .filter(|&child| self.nodes[child].name.is_some_and(|n| same(n, name)))
                .collect();
        }
        found
    }

    fn first_at(&self, mut element: usize, path: &[String]) -> Option<usize> {
        for name in path {
            element = self
                .children(element)
                .find(|&child| self.nodes[child].name.is_some_and(|n| same(n, name)))?;
        }
        Some(element)
    }

    /// The element tree of C14N bytes; None for anything C14N does not produce. Byte-level
    /// matching: the markup is ASCII, and a multi-byte UTF-8 sequence never holds an ASCII byte.
    fn parse(bytes: &'a [u8], wanted: Option<&str>) -> Option<Tree<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut nodes: Vec<Node<'a>> = Vec::with_capacity(256);
        // Open elements: (index, a child node came already, namespace declarations before it).
        let mut open: Vec<(usize, bool, usize)> = Vec::with_capacity(16);
        // Namespace declarations in scope: (prefix, whether its URI is the wanted namespace; None
        // for an undeclaration).
        let mut declared: Vec<(&'a str, Option<bool>)> = Vec::with_capacity(4);
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] != b'<' {
                let end = find(bytes, at, b'<').unwrap_or(bytes.len());
                let (current, closed, _) = open.last()?;
                if !closed {
                    let chunk = &text[at..end];
                    let node = &mut nodes[*current];
                    if node.text.is_empty() {
                        node.text = unescape(chunk)?;
                    } else {
                        node.text.to_mut().push_str(&unescape(chunk)?);
                    }
                }
                at = end;
                continue;
            }
            match bytes.get(at + 1)? {
                b'/' => {
                    at = find(bytes, at, b'>')? + 1;
                    let (_, _, declarations) = open.pop()?;
                    declared.truncate(declarations);
                    if open.is_empty() {
                        return (at == bytes.len()).then_some(Tree { nodes });
                    }
                }
                b'?' => {
                    at = find_pair(bytes, at + 2, b'?', b'>')? + 2;
                    open.last_mut()?.1 = true;
                }
                b'!' => return None,
                _ => {
                    let declarations = declared.len();
                    let (qualified, after) = start_tag(text, at + 1, wanted, &mut declared)?;
                    at = after;
                    let (prefix, local) = qualified.split_once(':').unwrap_or(("", qualified));
                    // Whether the element is in the wanted namespace: None when in no namespace.
                    let in_wanted = declared
                        .iter()
                        .rev()
                        .find(|(name, _)| same(name, prefix))
                        .and_then(|(_, matches)| *matches);
                    if in_wanted.is_none() && !prefix.is_empty() {
                        return None; // an undeclared prefix: not C14N output
                    }
                    let matches = in_wanted.unwrap_or(wanted.is_none());
                    let index = nodes.len();
                    nodes.push(Node {
                        name: matches.then_some(local),
                        text: Cow::Borrowed(""),
                        first_child: NONE,
                        last_child: NONE,
                        next_sibling: NONE,
                    });
                    if let Some((parent, closed, _)) = open.last_mut() {
                        *closed = true;
                        let parent = &mut nodes[*parent];
                        let previous = parent.last_child;
                        parent.last_child = index;
                        if previous == NONE {
                            parent.first_child = index;
                        } else {
                            nodes[previous].next_sibling = index;
                        }
                    } else if index != 0 {
                        return None; // a second root
                    }
                    open.push((index, false, declarations));
                }
            }
        }
        None // unclosed elements
    }
}

/// Equality of the short names compared here, as a plain byte loop: with `==` (a call to
/// memcmp each time) the comparisons showed as most of the parse under perf, and this took a
/// 10-line invoice's parse from 23 to 6 us (measured 2026-12-01).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

fn find(bytes: &[u8], from: usize, wanted: u8) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| b == wanted)
        .map(|at| from + at)
}

fn find_pair(bytes: &[u8], from: usize, first: u8, second: u8) -> Option<usize> {
    let mut at = from;
    loop {
        at = find(bytes, at, first)?;
        if bytes.get(at + 1) == Some(&second) {
            return Some(at);
        }
        at += 1;
    }
}

/// The qualified name of a start tag beginning at `from` (after `<`) and where it ends (after
/// `>`); its namespace declarations are pushed onto `declared`.
fn start_tag<'a>(
    text: &'a str,
    from: usize,
    wanted: Option<&str>,
    declared: &mut Vec<(&'a str, Option<bool>)>,
) -> Option<(&'a str, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() && bytes[at] != b' ' && bytes[at] != b'>' {
        at += 1;
    }
    let name = &text[from..at];
    if name.is_empty() {
        return None;
    }
    loop {
        match bytes.get(at)? {
            b'>' => return Some((name, at + 1)),
            b' ' => at += 1,
            _ => return None,
        }
        let equals = find(bytes, at, b'=')?;
        if bytes.get(equals + 1) != Some(&b'"') {
            return None;
        }
        let close = find(bytes, equals + 2, b'"')?;
        let attribute = &text[at..equals];
        let prefix = if same(attribute, "xmlns") {
            Some("")
        } else {
            attribute.strip_prefix("xmlns:")
        };
        if let Some(prefix) = prefix {
            let uri = unescape(&text[equals + 2..close])?;
            // An empty URI undeclares the default namespace (prefixes cannot be, in XML 1.0).
            let matches = (!uri.is_empty()).then(|| wanted.is_some_and(|w| same(&uri, w)));
            declared.push((prefix, matches));
        }
        at = close + 1;
    }
}

/// `text` with its references resolved (borrowed when it has none); None for a malformed one.
fn unescape(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('&') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    unescape_into(text, &mut out)?;
    Some(Cow::Owned(out))
}

/// Append `text` with its references resolved; None for a malformed reference.
fn unescape_into(text: &str, out: &mut String) -> Option<()> {
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find(';')?;
        let reference = &after[..end];
        let resolved = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let number = reference.strip_prefix('#')?;
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse::<u32>().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(())
}
