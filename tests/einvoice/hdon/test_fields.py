"""HDon's DLHDon read as the invoice model, and error pointers as element paths (pure)."""

from __future__ import annotations

import pytest
from lxml import etree

from einvoice.hdon.fields import hdon_of, invoice_of, invoice_of_reference, xml_path
from einvoice.hdon.parse import NAMESPACE, parse_hdon
from tests.einvoice.hdon.support import invoice


@pytest.mark.parametrize(("relation", "digit"), [("replaces", b"1"), ("adjusts", b"2")])
@pytest.mark.parametrize("namespace", [None, NAMESPACE])
def test_an_invoice_goes_to_xml_and_back_unchanged(
    namespace: str | None, relation: str, digit: bytes
) -> None:
    sent = invoice(
        original={
            "relation": relation,
            "template": "1",
            "symbol": "C26TAA",
            "number": 7,
            "issued_date": "2026-11-30",
        }
    )
    sent["lines"][0]["vat_rate"] = "KHAC:5.25"

    body = etree.tostring(hdon_of(sent, namespace=namespace))

    document = parse_hdon(body)
    assert invoice_of(document) == sent  # the compiled reader
    assert invoice_of_reference(document) == sent
    assert b"<TSuat>KHAC:5.25%</TSuat>" in body
    assert b"<TCHDon>" + digit + b"</TCHDon>" in body


def test_empty_and_unknown_elements_are_not_read() -> None:
    root = hdon_of(invoice())
    general = root.find("DLHDon/TTChung")
    assert general is not None
    etree.SubElement(general, "MHSo").text = "ABC"  # a field the model does not carry
    payment = general.find("HTTToan")
    assert payment is not None
    payment.text = "  "

    read = invoice_of(parse_hdon(etree.tostring(root)))

    assert "payment_method" not in read
    assert "MHSo" not in str(read)


def test_a_number_that_is_not_digits_is_left_for_the_model_to_refuse() -> None:
    root = hdon_of(invoice())
    number = root.find("DLHDon/TTChung/SHDon")
    assert number is not None
    number.text = "12a"

    assert invoice_of(parse_hdon(etree.tostring(root)))["number"] == "12a"


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ("/invoice/number", "/HDon/DLHDon/TTChung/SHDon"),
        ("/invoice/seller/tax_code", "/HDon/DLHDon/NDHDon/NBan/MST"),
        ("/invoice/lines/2/amount", "/HDon/DLHDon/NDHDon/DSHHDVu/HHDVu[3]/ThTien"),
        ("/invoice/totals/total_payable", "/HDon/DLHDon/NDHDon/TToan/TgTTTBSo"),
        (
            "/invoice/totals/by_rate/0/tax_amount",
            "/HDon/DLHDon/NDHDon/TToan/THTTLTSuat/LTSuat[1]/TThue",
        ),
        ("/invoice/original/relation", "/HDon/DLHDon/TTChung/TTHDLQuan/TCHDon"),
        ("/invoice/original/template", "/HDon/DLHDon/TTChung/TTHDLQuan/KHMSHDCLQuan"),
        ("/invoice/original/symbol", "/HDon/DLHDon/TTChung/TTHDLQuan/KHHDCLQuan"),
        ("/invoice/original/issued_date", "/HDon/DLHDon/TTChung/TTHDLQuan/NLHDCLQuan"),
        ("/invoice/original", "/HDon/DLHDon/TTChung/TTHDLQuan"),
        ("/invoice/lines", "/HDon/DLHDon/NDHDon/DSHHDVu/HHDVu"),
        ("/invoice", "/HDon/DLHDon"),
    ],
)
def test_error_pointers_name_the_element(pointer: str, path: str) -> None:
    assert xml_path(pointer) == path
