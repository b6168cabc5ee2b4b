"""Reading HDon from hostile bytes (pure): what is refused, and what is found where."""

from __future__ import annotations

import pytest
from lxml import etree

from einvoice.error_codes import ErrorCode
from einvoice.hdon.fields import hdon_of
from einvoice.hdon.parse import MAX_BYTES, NAMESPACE, MalformedXml, parse_hdon
from tests.einvoice.hdon.support import invoice


def _refused(body: bytes) -> MalformedXml:
    with pytest.raises(MalformedXml) as caught:
        parse_hdon(body)
    assert caught.value.code == ErrorCode.MALFORMED_XML
    return caught.value


@pytest.mark.parametrize("namespace", [None, NAMESPACE])
@pytest.mark.parametrize("data_id", ["data", "Id-22884", "DLHDon_123", "SigningData"])
def test_both_namespaces_and_any_id_are_read(namespace: str | None, data_id: str) -> None:
    body = etree.tostring(hdon_of(invoice(), data_id=data_id, namespace=namespace))

    document = parse_hdon(body)

    assert document.namespace == namespace
    assert document.data_id == data_id
    assert document.data is document.root[0]
    assert document.seller_signature is None
    assert not document.has_code


def test_a_billion_laughs_is_refused_without_expanding_anything() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE HDon [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<HDon><DLHDon Id="data"><TTChung><KHHDon>&d;&d;&d;&d;&d;&d;&d;</KHHDon></TTChung></DLHDon></HDon>"""
    assert "DOCTYPE" in str(_refused(bomb))


def test_external_entities_are_never_fetched() -> None:
    external = b"""<?xml version="1.0"?>
<!DOCTYPE HDon [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<HDon><DLHDon Id="data"><TTChung><KHHDon>&x;</KHHDon></TTChung></DLHDon></HDon>"""
    _refused(external)


def test_size_depth_and_shape_limits() -> None:
    assert _refused(b"<HDon>" + b" " * MAX_BYTES + b"</HDon>").details[0].field == "/HDon"
    deep = b"<HDon>" + b"<a>" * 40 + b"</a>" * 40 + b"</HDon>"
    assert "deep" in str(_refused(deep))
    assert _refused(b"<Invoice/>").details[0].field == "/HDon"
    assert _refused(b'<HDon xmlns="urn:other"/>').details[0].field == "/HDon"
    assert _refused(b"<HDon/>").details[0].field == "/HDon/DLHDon"
    assert _refused(b"<HDon><DLHDon/></HDon>").details[0].field == "/HDon/DLHDon/@Id"
    two = b'<HDon><DLHDon Id="a"/><DLHDon Id="b"/></HDon>'
    assert _refused(two).details[0].field == "/HDon/DLHDon"
    assert "well-formed" in str(_refused(b"<HDon><DLHDon>"))


def test_a_code_or_an_authority_signature_sent_by_a_seller_is_noticed() -> None:
    body = etree.tostring(hdon_of(invoice()))
    with_code = body.replace(b"<DSCKS>", b"<MCCQT>00AB</MCCQT><DSCKS>")
    with_authority = body.replace(b"<NBan/>", b'<NBan/><CQT a="x>y"/>')
    placeholder = body.replace(b"<NBan/>", b"<NBan/><CQT/>")

    assert parse_hdon(with_code).has_code
    assert parse_hdon(with_authority).authority_signed
    assert not parse_hdon(placeholder).authority_signed


def test_an_encoding_other_than_utf8_is_refused() -> None:
    body = etree.tostring(hdon_of(invoice()), xml_declaration=True, encoding="UTF-16")
    assert isinstance(body, bytes)

    assert "UTF-8" in str(_refused(body))
    utf8 = etree.tostring(hdon_of(invoice()), xml_declaration=True, encoding="utf-8")
    assert isinstance(utf8, bytes)
    assert parse_hdon(utf8)
