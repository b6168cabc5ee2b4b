"""The invoice model's fields and their HDon elements, both ways: an `HDon`'s `DLHDon` read as the
same invoice a JSON submission carries (so one set of rules, hashes and storage serves both), and
an error's JSON pointer turned into the element's path for an XML caller.

The table below is the one place the mapping lives; docs/invoice-format.md prints it. Elements the
model does not carry (THDon, PBan, MHSo, TTKhac, ...) are not read: they stay in the stored,
signed XML, which the hash covers. An empty element counts as absent, as the format allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lxml import etree

from einvoice.accelerator import core
from einvoice.hdon.parse import HDonDocument

if TYPE_CHECKING:
    from einvoice_core import DataReader

Kind = Literal["text", "integer", "rate", "relation"]


@dataclass(frozen=True)
class Field:
    name: str  # the model's key
    element: str  # the element's path under its group's element
    kind: Kind = "text"


@dataclass(frozen=True)
class Group:
    """Fields under one element: the invoice itself (`key` None), an object, or a list."""

    key: str | None
    element: str  # under DLHDon
    fields: tuple[Field, ...]
    repeated: bool = False


HEADER = Group(
    None,
    "TTChung",
    (
        Field("template", "KHMSHDon"),
        Field("symbol", "KHHDon"),
        Field("number", "SHDon", "integer"),
        Field("issued_date", "NLap"),
        Field("currency", "DVTTe"),
        Field("exchange_rate", "TGia"),
        Field("payment_method", "HTTToan"),
    ),
)
GROUPS = (
    Group(
        "seller",
        "NDHDon/NBan",
        (
            Field("name", "Ten"),
            Field("tax_code", "MST"),
            Field("address", "DChi"),
            Field("phone", "SDThoai"),
            Field("email", "DCTDTu"),
            Field("bank_account", "STKNHang"),
        ),
    ),
    Group(
        "buyer",
        "NDHDon/NMua",
        (
            Field("name", "Ten"),
            Field("tax_code", "MST"),
            Field("address", "DChi"),
            Field("citizen_id", "CCCDan"),
        ),
    ),
    Group(
        "lines",
        "NDHDon/DSHHDVu/HHDVu",
        (
            Field("no", "STT", "integer"),
            Field("nature", "TChat", "integer"),
            Field("code", "MHHDVu"),
            Field("name", "THHDVu"),
            Field("unit", "DVTinh"),
            Field("quantity", "SLuong"),
            Field("unit_price", "DGia"),
            Field("discount_rate", "TLCKhau"),
            Field("discount_amount", "STCKhau"),
            Field("amount", "ThTien"),
            Field("vat_rate", "TSuat", "rate"),
        ),
        repeated=True,
    ),
    Group(
        "totals",
        "NDHDon/TToan",
        (
            Field("amount_before_tax", "TgTCThue"),
            Field("tax_amount", "TgTThue"),
            Field("discount_amount", "TTCKTMai"),
            Field("total_payable", "TgTTTBSo"),
            Field("total_in_words", "TgTTTBChu"),
        ),
    ),
    Group(
        "by_rate",  # inside totals
        "NDHDon/TToan/THTTLTSuat/LTSuat",
        (
            Field("vat_rate", "TSuat", "rate"),
            Field("taxable_amount", "ThTien"),
            Field("tax_amount", "TThue"),
        ),
        repeated=True,
    ),
    Group(
        "original",
        "TTChung/TTHDLQuan",
        (
            Field("relation", "TCHDon", "relation"),
            Field("template", "KHMSHDCLQuan"),
            Field("symbol", "KHHDCLQuan"),
            Field("number", "SHDCLQuan", "integer"),
            Field("issued_date", "NLHDCLQuan"),
        ),
    ),
)
_GROUPS = {group.key: group for group in GROUPS}


def _compiled_reader() -> DataReader | None:
    """The compiled reader (core/src/hdon.rs) of the table, the header first, then the groups in
    order; None without the compiled core (einvoice/accelerator.py), where the lxml reader reads
    every document."""
    if core is None:
        return None
    reader: DataReader = core.DataReader(
        [
            (
                group.key,
                group.key == "by_rate",
                group.element.split("/"),
                group.repeated,
                [(field.name, field.element.split("/"), field.kind) for field in group.fields],
            )
            for group in (HEADER, *GROUPS)
        ]
    )
    return reader


COMPILED_READER = _compiled_reader()
_RELATIONS = {"1": "replaces", "2": "adjusts"}
DATA_PATH = "/HDon/DLHDon"


def invoice_of(document: HDonDocument) -> dict[str, Any]:
    """DLHDon as the invoice model's raw input (validated afterwards like a JSON invoice): read
    by the compiled reader from DLHDon's C14N bytes, which the hash needs anyway (about a tenth
    of the time, scripts/bench_xml.py), else by `invoice_of_reference`; the differential tests
    (tests/einvoice/hdon/test_fields_compiled.py) hold the two together."""
    # C14N drops comments, where lxml's `.text` stops at one.
    if COMPILED_READER is not None and not document.has_comments:
        read = COMPILED_READER.read(document.data_canonical, document.namespace)
        if read is not None:
            return read
    return invoice_of_reference(document)


def invoice_of_reference(document: HDonDocument) -> dict[str, Any]:
    """The reference reading, with lxml, for every document."""
    reader = _Reader(document)
    header = reader.elements(document.data, HEADER.element)
    invoice = reader.fields(header[0], HEADER) if header else {}
    for group in GROUPS:
        parent = invoice
        if group.key == "by_rate":
            parent = invoice.setdefault("totals", {})
        found = reader.elements(document.data, group.element)
        if group.repeated:
            if found or group.key == "lines":
                parent[str(group.key)] = [reader.fields(element, group) for element in found]
        elif found:
            parent[str(group.key)] = reader.fields(found[0], group)
    return invoice


SELLER_PATH = f"{DATA_PATH}/NDHDon/NBan/MST"


def seller_tax_code(document: HDonDocument) -> str | None:
    """The seller's MST, without reading the rest of DLHDon (a batch's lines are checked for
    their seller before they are queued); None when absent or empty."""
    found = _Reader(document).elements(document.data, "NDHDon/NBan/MST")
    text = (found[0].text or "").strip() if found else ""
    return text or None


def xml_path(pointer: str) -> str:
    """The element of an error's JSON pointer (`/invoice/...`), as a path with 1-based indexes
    (`/HDon/DLHDon/NDHDon/DSHHDVu/HHDVu[3]/ThTien`); DLHDon when no element matches."""
    parts = pointer.split("/")[1:]
    if parts[:1] == ["invoice"]:
        parts = parts[1:]
    if not parts:
        return DATA_PATH
    head = parts[0]
    if head == "totals" and len(parts) > 1 and parts[1] == "by_rate":
        return _in_group(_GROUPS["by_rate"], parts[2:])
    if head in _GROUPS:
        return _in_group(_GROUPS[head], parts[1:])
    return _in_group(HEADER, parts)


def _in_group(group: Group, rest: list[str]) -> str:
    path = f"{DATA_PATH}/{group.element}"
    if group.repeated and rest and rest[0].isdigit():
        path += f"[{int(rest[0]) + 1}]"
        rest = rest[1:]
    if rest:
        field = next((field for field in group.fields if field.name == rest[0]), None)
        if field is not None:
            path += f"/{field.element}"
    return path


# Per namespace and group: each field's name, the qualified tags of its element's path, its kind.
# Per namespace and group: the fields that are direct children (by qualified tag: name, kind),
# and the others with the qualified tags of their element's path.
_Plan = tuple[dict[str, tuple[str, Kind]], list[tuple[str, tuple[str, ...], Kind]]]
_PLANS: dict[tuple[str | None, str | None], _Plan] = {}


class _Reader:
    """Finds elements by paths of local names, stepping through each element's children once
    (lxml's `find` paths run in Python and cost about 10 times more here)."""

    def __init__(self, document: HDonDocument) -> None:
        self.document = document

    def elements(self, parent: etree._Element, path: str) -> list[etree._Element]:
        found = [parent]
        for name in path.split("/"):
            tag = self.document.tag(name)
            found = [child for element in found for child in element if child.tag == tag]
        return found

    def fields(self, element: etree._Element, group: Group) -> dict[str, Any]:
        """The group's values under `element`: the first child of each name counts, as `find`
        would take it. One pass over the children; most fields are direct children."""
        direct, nested = self._plan(group)
        values: dict[str, Any] = {}
        empty: set[str] = set()
        for child in element:
            entry = direct.get(child.tag)
            if entry is None or entry[0] in values or entry[0] in empty:
                continue
            text = child.text
            if text and (text := text.strip()):
                name, kind = entry
                values[name] = text if kind == "text" else _value(text, kind)
            else:
                empty.add(entry[0])  # the first of its name is empty: absent
        for name, tags, kind in nested:
            found = _first_at(element, tags)
            text = found.text if found is not None else None
            if text and (text := text.strip()):
                values[name] = _value(text, kind)
        return values

    def _plan(self, group: Group) -> _Plan:
        key = (self.document.namespace, group.key)
        plan = _PLANS.get(key)
        if plan is None:
            direct: dict[str, tuple[str, Kind]] = {}
            nested: list[tuple[str, tuple[str, ...], Kind]] = []
            for field in group.fields:
                tags = tuple(self.document.tag(name) for name in field.element.split("/"))
                if len(tags) == 1:
                    direct[tags[0]] = (field.name, field.kind)
                else:
                    nested.append((field.name, tags, field.kind))
            plan = _PLANS[key] = (direct, nested)
        return plan


def _first_at(element: etree._Element, tags: tuple[str, ...]) -> etree._Element | None:
    """The element at a path of qualified tags, the first child of each name on the way."""
    for tag in tags:
        found = next((child for child in element if child.tag == tag), None)
        if found is None:
            return None
        element = found
    return element


def _value(text: str, kind: Kind) -> Any:
    if kind == "integer":
        # Not digits: left as text, which the model refuses with the field's path.
        return int(text) if text.isdigit() and len(text) <= 9 else text
    if kind == "rate" and text.startswith("KHAC:") and text.endswith("%"):
        return text[:-1]  # the XML writes KHAC:5.25%, the model KHAC:5.25
    if kind == "relation":
        return _RELATIONS.get(text, text)
    return text


def hdon_of(
    invoice: dict[str, Any], *, data_id: str = "data", namespace: str | None = None
) -> etree._Element:
    """An unsigned HDon carrying `invoice`, with an empty DSCKS/NBan for the seller's signature:
    the seller's side of the table (samples, tests, the demo)."""

    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    def child(parent: etree._Element, path: str) -> etree._Element:
        for name in path.split("/"):
            found = parent.find(tag(name))
            parent = found if found is not None else etree.SubElement(parent, tag(name))
        return parent

    def fill(element: etree._Element, group: Group, values: dict[str, Any]) -> None:
        for field in group.fields:
            value = values.get(field.name)
            if value is not None:
                child(element, field.element).text = _text(value, field.kind)

    namespaces: Any = {None: namespace} if namespace else None  # lxml-stubs: str keys only
    root = etree.Element(tag("HDon"), nsmap=namespaces)
    data = etree.SubElement(root, tag("DLHDon"), Id=data_id)
    general = child(data, "TTChung")
    child(general, "PBan").text = "2.1.0"
    child(general, "THDon").text = "Hóa đơn giá trị gia tăng"
    fill(general, HEADER, invoice)
    for group in GROUPS:
        source: Any = invoice.get("totals", {}) if group.key == "by_rate" else invoice
        value = source.get(str(group.key))
        if value is None:
            continue
        parent_path, _, name = group.element.rpartition("/")
        parent = child(data, parent_path) if parent_path else data
        for item in value if group.repeated else [value]:
            fill(etree.SubElement(parent, tag(name)), group, item)
    # The format puts the rate summaries first in TToan.
    totals = data.find(f"{tag('NDHDon')}/{tag('TToan')}")
    summaries = totals.find(tag("THTTLTSuat")) if totals is not None else None
    if totals is not None and summaries is not None:
        totals.remove(summaries)
        totals.insert(0, summaries)
    child(root, "DSCKS/NBan")
    return root


def _text(value: Any, kind: Kind) -> str:
    if kind == "rate" and isinstance(value, str) and value.startswith("KHAC:"):
        return f"{value}%"
    if kind == "relation":
        return {"replaces": "1", "adjusts": "2"}.get(value, str(value))
    return str(value)
