"""Verifying the seller's XML Signature of a national-format invoice (HDon/DSCKS/NBan) against
the certificates registered for the seller.

Two implementations give the same answers. The usual shape (exclusive C14N, SHA-256, RSA or
ECDSA) is checked with lxml's C14N and `cryptography` directly (`_fast_check`); every other shape,
and the differential tests' oracle, is python-xmlsec (libxmlsec1, maintained by the xmlsec
project), chosen over signxml (pure Python over lxml) at about 2.8 times its rate, but still about
1 ms a call of fixed costs (scripts/bench_xml.py, docs/invoice-format.md). Before either runs,
the signature's shape is held to what the format uses, which is also what keeps wrapping out:
- exactly one Reference, whose URI is `#` + the Id of the DLHDon at its fixed place
  (einvoice/hdon/parse.py), and that Id carried by no other element of the document, so the
  element the signature covers is the element the service reads;
- RSA-SHA256 or ECDSA-SHA256, SHA-256 digests, exclusive or inclusive C14N 1.0 (with or without
  comments), the enveloped-signature transform allowed;
- one certificate in KeyInfo, found among the seller's registered certificates by the SHA-256
  fingerprint of its DER bytes; the key used is the registered one, never KeyInfo's own.

The invoice's hash is SHA-256 of DLHDon in exclusive C14N, computed here (`data_digest`): for an
invoice signed with exclusive C14N, exactly the seller's own Reference digest
(docs/invoice-format.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import xmlsec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from einvoice.error_codes import ErrorCode
from einvoice.errors import ErrorDetail
from einvoice.hdon.parse import DSIG, HDonDocument
from einvoice.timezone import VIETNAM

if TYPE_CHECKING:
    from einvoice_core import TokenSigner

MIN_RSA_BITS = 2048
# References a seller's signature may carry beside DLHDon's, to its own Objects (signing time).
MAX_OWN_REFERENCES = 3
SIGNATURE_PATH = "/HDon/DSCKS/NBan/Signature"

_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
_SIGNATURE_METHODS: dict[str, type[object]] = {
    _RSA_SHA256: rsa.RSAPublicKey,
    _ECDSA_SHA256: ec.EllipticCurvePublicKey,
}
_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_C14N = frozenset(
    {
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    }
)
_TRANSFORMS = _C14N | {"http://www.w3.org/2000/09/xmldsig#enveloped-signature"}


@dataclass(frozen=True)
class SellerCertificate:
    """A certificate registered to a seller (the registry's row, parsed)."""

    kid: str
    tax_code: str
    certificate: x509.Certificate
    revoked_at: dt.datetime | None = None
    # The registry's window, within the certificate's own validity (None: the certificate's).
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    fingerprint: str = field(init=False)
    public_key: object = field(init=False, repr=False, compare=False)  # parsed once
    # libxmlsec1's key, loaded once per certificate (about 50 us a load).
    key: xmlsec.Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        object.__setattr__(self, "fingerprint", hashlib.sha256(der).hexdigest())
        object.__setattr__(self, "public_key", self.certificate.public_key())
        object.__setattr__(
            self, "key", xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
        )

    def valid_on(self, day: dt.date) -> bool:
        """Whether the certificate, and its registration, were valid at some moment of `day` in
        Vietnam."""
        starts = self.certificate.not_valid_before_utc
        if self.valid_from is not None:
            starts = max(starts, self.valid_from)
        ends = self.certificate.not_valid_after_utc
        if self.valid_to is not None:
            ends = min(ends, self.valid_to)
        return starts.astimezone(VIETNAM).date() <= day <= ends.astimezone(VIETNAM).date()


@dataclass(frozen=True)
class VerifiedXml:
    kid: str
    invoice_hash: str  # hex SHA-256 of DLHDon in exclusive C14N (`data_digest`)


def verify_seller_xml_signature(
    document: HDonDocument,
    *,
    seller_tax_code: str,
    issued: dt.date,
    certificates: Mapping[str, SellerCertificate],
    now: dt.datetime,
    reference: bool = False,
) -> VerifiedXml | list[ErrorDetail]:
    """The seller's verified signature, or its problems. `certificates`: by fingerprint.
    `reference`: check the signature with libxmlsec1 only (the differential tests' oracle)."""

    def problem(code: ErrorCode, message: str, path: str = SIGNATURE_PATH) -> list[ErrorDetail]:
        return [ErrorDetail(code, message, path)]

    signature = document.seller_signature
    if signature is None:
        return problem(
            ErrorCode.XML_SIGNATURE_MALFORMED,
            "the seller's ds:Signature is missing from DSCKS/NBan",
            "/HDon/DSCKS/NBan",
        )
    shape = _shape(signature, document)
    if isinstance(shape, str):
        return problem(ErrorCode.XML_SIGNATURE_MALFORMED, shape)
    method, _digest, certificate_der = shape
    if method not in _SIGNATURE_METHODS:
        return problem(
            ErrorCode.XML_SIGNATURE_ALGORITHM_NOT_ALLOWED,
            f"SignatureMethod {method or 'without an Algorithm'} is not accepted "
            "(RSA-SHA256 or ECDSA-SHA256)",
        )
    registered = certificates.get(hashlib.sha256(certificate_der).hexdigest())
    if registered is None or registered.tax_code != seller_tax_code:
        return problem(
            ErrorCode.SIGNATURE_CERTIFICATE_UNKNOWN,
            "the certificate in KeyInfo is not registered to the seller",
        )
    public_key = registered.public_key
    if not isinstance(public_key, _SIGNATURE_METHODS[method]):
        return problem(
            ErrorCode.XML_SIGNATURE_ALGORITHM_NOT_ALLOWED,
            f"SignatureMethod {method} does not match the certificate's key",
        )
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        return problem(
            ErrorCode.SIGNATURE_KEY_TOO_WEAK, f"RSA keys need at least {MIN_RSA_BITS} bits"
        )
    if registered.revoked_at is not None and registered.revoked_at <= now:
        return problem(ErrorCode.SIGNATURE_KEY_REVOKED, f"certificate {registered.kid} was revoked")
    if not registered.valid_on(issued):
        return problem(
            ErrorCode.SIGNATURE_CERTIFICATE_EXPIRED,
            f"certificate {registered.kid} was not valid on {issued}",
        )
    digest = data_digest(document)
    holds = None if reference else _fast_check(signature, digest, public_key, document)
    if holds is None:  # a shape the fast check leaves to libxmlsec1 (or the reference asked for)
        holds = _xmlsec_check(signature, document, registered)
    if not holds:
        return problem(ErrorCode.SIGNATURE_INVALID, "the XML Signature does not verify over DLHDon")
    return VerifiedXml(registered.kid, digest)


def _xmlsec_check(
    signature: etree._Element, document: HDonDocument, registered: SellerCertificate
) -> bool:
    context = xmlsec.SignatureContext()
    context.key = registered.key
    xmlsec.tree.add_ids(document.root, ["Id"])
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def _fast_check(
    signature: etree._Element, digest: str, public_key: object, document: HDonDocument
) -> bool | None:
    """The format's usual shape checked with lxml's C14N and `cryptography` directly: exclusive
    C14N for SignedInfo and for every Reference (its last C14N transform; a Reference to the
    signature's own Object has C14N transforms only), no InclusiveNamespaces. libxmlsec1 costs
    about 1 ms a call more for the same work (scripts/bench_xml.py); the differential tests hold
    the two to the same answers. None: any other shape, left to libxmlsec1. `_shape` has checked
    the rest (one Reference to DLHDon, its Id unique, the others to the signature's own
    Objects, SHA-256, the algorithms)."""
    signed_info = _child(signature, "SignedInfo")
    inclusive = next(signature.iter(f"{{{_EXC_C14N}}}InclusiveNamespaces"), None)
    if signed_info is None or inclusive is not None:
        return None
    c14n = _child(signed_info, "CanonicalizationMethod")
    if c14n is None or c14n.get("Algorithm") != _EXC_C14N:
        return None
    data_uri = f"#{document.data_id}"
    own: dict[str, etree._Element] | None = None
    for reference in _children(signed_info, "Reference"):
        named = [
            transform.get("Algorithm")
            for transforms in _children(reference, "Transforms")
            for transform in _children(transforms, "Transform")
        ]
        canonicalisations = [name for name in named if name in _C14N]
        if not canonicalisations or canonicalisations[-1] != _EXC_C14N:
            return None
        uri = reference.get("URI") or ""
        if uri == data_uri:
            wanted = digest
        else:
            if len(canonicalisations) != len(named):
                return None  # another transform on an Object's Reference: libxmlsec1 decides
            own = own if own is not None else _own_targets(signature, document)
            target = own.get(uri[1:])
            if target is None:
                return None
            canonical = etree.tostring(target, method="c14n", exclusive=True, with_comments=False)
            wanted = hashlib.sha256(canonical).hexdigest()
        try:
            claimed = _base64(_text(_child(reference, "DigestValue")))
        except ValueError:
            return False
        if not hmac.compare_digest(claimed, bytes.fromhex(wanted)):
            return False
    try:
        value = _base64(_text(_child(signature, "SignatureValue")))
    except ValueError:
        return False
    signed = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, signed, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            half = (public_key.curve.key_size + 7) // 8
            if len(value) != 2 * half:  # XML-DSig's ECDSA value is r and s, fixed width
                return False
            r, s = int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            public_key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        else:
            return None
    except InvalidSignature:
        return False
    return True


def data_digest(document: HDonDocument) -> str:
    """The invoice's hash, computed by the service whatever the seller's canonicalisation:
    SHA-256 of DLHDon in exclusive C14N 1.0 without comments (for an invoice signed with
    exclusive C14N, the seller's own Reference digest). Content outside DLHDon, and the
    signature, do not change it."""
    return hashlib.sha256(document.data_canonical).hexdigest()


def _shape(signature: etree._Element, document: HDonDocument) -> tuple[str, bytes, bytes] | str:
    """(SignatureMethod, the DLHDon Reference's digest, the KeyInfo certificate's DER), or what
    is wrong with the signature's shape.

    References: exactly one to `#<DLHDon Id>`, an Id DLHDon alone carries; beside it, at most
    `MAX_OWN_REFERENCES` to elements inside the signature's own `ds:Object`s, as signing software
    adds for the signing time (`SignatureProperties/SigningTime`), each Id unique too. Nothing
    else may be referenced, so nothing outside DLHDon and the signature itself is signed."""
    names = _child_names(signature)
    if names[:3] != ["SignedInfo", "SignatureValue", "KeyInfo"] or any(
        name != "Object" for name in names[3:]
    ):
        return "Signature holds SignedInfo, SignatureValue and KeyInfo, each once, in that order"
    signed_info = _only(signature, "SignedInfo")
    info_names = _child_names(signed_info) if signed_info is not None else []
    if (
        signed_info is None
        or info_names[:2] != ["CanonicalizationMethod", "SignatureMethod"]
        or len(info_names) < 3
        or any(name != "Reference" for name in info_names[2:])
    ):
        return "SignedInfo holds CanonicalizationMethod, SignatureMethod and its References"
    c14n = _only(signed_info, "CanonicalizationMethod")
    if c14n is None or c14n.get("Algorithm") not in _C14N:
        return "CanonicalizationMethod must be C14N 1.0 or exclusive C14N 1.0"
    method = _only(signed_info, "SignatureMethod")
    references = _children(signed_info, "Reference")
    if method is None or len(references) > 1 + MAX_OWN_REFERENCES:
        return f"one SignatureMethod, and at most {1 + MAX_OWN_REFERENCES} References"
    data_uri = f"#{document.data_id}"
    to_data = [reference for reference in references if reference.get("URI") == data_uri]
    if len(to_data) != 1:
        return f"exactly one Reference must point at {data_uri}, the DLHDon"
    holders = [holder for value, holder in document.ids if value == document.data_id]
    if holders != [document.data]:
        return f"the Id {document.data_id} must belong to DLHDon alone"
    own = _own_targets(signature, document)
    for reference in references:
        if reference is not to_data[0] and (reference.get("URI") or "")[1:] not in own:
            return (
                "a Reference beside DLHDon's must point at an element of the signature's own "
                "Object (such as its signing time), by an Id no other element carries"
            )
    digests = [_reference_digest(reference) for reference in references]
    problem = next((found for found in digests if isinstance(found, str)), None)
    if problem is not None:
        return problem
    certificates = [
        certificate
        for key_info in _children(signature, "KeyInfo")
        for data in _children(key_info, "X509Data")
        for certificate in _children(data, "X509Certificate")
    ]
    if len(certificates) != 1:
        return "KeyInfo must carry exactly one X509Certificate, the seller's"
    try:
        certificate_der = _base64(certificates[0].text or "")
    except ValueError:
        return "DigestValue and X509Certificate are base64"
    digest = digests[references.index(to_data[0])]
    assert isinstance(digest, bytes)  # every str was returned above
    return method.get("Algorithm", ""), digest, certificate_der


def _reference_digest(reference: etree._Element) -> bytes | str:
    """A Reference's digest, or what is wrong with its shape."""
    transforms = _child(reference, "Transforms")
    for transform in transforms if transforms is not None else ():
        algorithm = transform.get("Algorithm")
        if algorithm not in _TRANSFORMS:
            return f"transform {algorithm or 'without an Algorithm'} is not accepted"
    if _child_names(reference) not in (
        ["DigestMethod", "DigestValue"],
        ["Transforms", "DigestMethod", "DigestValue"],
    ):
        return "Reference holds Transforms, DigestMethod and DigestValue, each once"
    digest_method = _only(reference, "DigestMethod")
    digest_value = _only(reference, "DigestValue")
    if digest_method is None or digest_method.get("Algorithm") != _DIGEST:
        return "DigestMethod must be SHA-256"
    try:
        digest = _base64(digest_value.text or "" if digest_value is not None else "")
    except ValueError:
        return "DigestValue and X509Certificate are base64"
    if len(digest) != 32:
        return "DigestValue must be a SHA-256 digest"
    return digest


def _own_targets(signature: etree._Element, document: HDonDocument) -> dict[str, etree._Element]:
    """The elements inside the signature's own Objects (the Objects too) that an Id names, and
    that Id alone: what a Reference beside DLHDon's may point at."""
    objects = _children(signature, "Object")
    if not objects:
        return {}
    counts: dict[str, int] = {}
    for value, _ in document.ids:
        counts[value] = counts.get(value, 0) + 1
    inside: dict[str, etree._Element] = {}
    for value, holder in document.ids:
        if counts[value] == 1 and any(
            holder is found or holder in found.iterdescendants() for found in objects
        ):
            inside[value] = holder
    return inside


def _child_names(element: etree._Element) -> list[str]:
    """The local names of an element's child elements (comments and PIs aside); a child outside
    the XML Signature namespace is named by its full tag, so it never matches."""
    return [
        child.tag[len(DSIG) + 2 :] if child.tag.startswith(f"{{{DSIG}}}") else child.tag
        for child in element
        if isinstance(child.tag, str)
    ]


def _base64(text: str) -> bytes:
    """Base64 as XML Signature writes it: line breaks and spaces allowed, any other character
    outside the alphabet refused (as libxmlsec1 does; Python's default would skip it)."""
    return base64.b64decode("".join(text.split()), validate=True)


def _only(parent: etree._Element, name: str) -> etree._Element | None:
    found = _children(parent, name)
    return found[0] if len(found) == 1 else None


# Children by tag through `iterchildren`, in C: `find` and `findall` go through lxml's
# ElementPath in Python, about twice the cost for these single steps (measured 2026-12-01).
def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return list(parent.iterchildren(f"{{{DSIG}}}{name}"))


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return next(parent.iterchildren(f"{{{DSIG}}}{name}"), None)


def _text(element: etree._Element | None) -> str:
    return (element.text or "") if element is not None else ""


def sign_hdon(
    root: etree._Element,
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    *,
    exclusive: bool = True,
    signing_time: dt.datetime | None = None,
) -> etree._Element:
    """The seller's side: an XML Signature of DLHDon put in DSCKS/NBan, as accounting software
    makes it (the samples, the tests, the demo). With `signing_time`, also a
    `ds:Object/SignatureProperties/SignatureProperty/SigningTime` and a second Reference to it,
    as much signing software adds. Returns `root`, signed in place."""
    namespace = etree.QName(root).namespace

    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    data = root.find(tag("DLHDon"))
    seller = root.find(f"{tag('DSCKS')}/{tag('NBan')}")
    if data is None or seller is None:
        raise ValueError("an HDon with DLHDon and DSCKS/NBan")
    constants = xmlsec.constants
    method = (
        constants.TransformRsaSha256
        if isinstance(private_key, rsa.RSAPrivateKey)
        else constants.TransformEcdsaSha256
    )
    c14n = constants.TransformExclC14N if exclusive else constants.TransformInclC14N
    signature = xmlsec.template.create(root, c14n, method)
    seller.append(signature)
    reference = xmlsec.template.add_reference(
        signature, constants.TransformSha256, uri=f"#{data.get('Id')}"
    )
    xmlsec.template.add_transform(reference, c14n)
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.add_x509_data(key_info)
    if signing_time is not None:
        signature.set("Id", "seller-signature")
        holder = etree.SubElement(signature, f"{{{DSIG}}}Object", Id="SigningTime")
        properties = etree.SubElement(holder, f"{{{DSIG}}}SignatureProperties")
        time_property = etree.SubElement(
            properties, f"{{{DSIG}}}SignatureProperty", Target="#seller-signature"
        )
        etree.SubElement(time_property, "SigningTime").text = signing_time.astimezone(
            VIETNAM
        ).strftime("%Y-%m-%dT%H:%M:%S")
        time_reference = xmlsec.template.add_reference(
            signature, constants.TransformSha256, uri="#SigningTime"
        )
        xmlsec.template.add_transform(time_reference, c14n)
    pem_key = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = xmlsec.Key.from_memory(pem_key, constants.KeyDataFormatPem)
    key.load_cert_from_memory(
        certificate.public_bytes(serialization.Encoding.PEM), constants.KeyDataFormatCertPem
    )
    context = xmlsec.SignatureContext()
    context.key = key
    xmlsec.tree.add_ids(root, ["Id"])
    context.sign(signature)
    return root


def sign_references(
    references: list[tuple[str, str]],
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    signer: TokenSigner | None = None,
) -> bytes:
    """The authority's XML Signature, serialised, over references given as (Id, hex SHA-256 of
    the element in exclusive C14N): exclusive C14N, SHA-256, RSA-SHA256 or ECDSA-SHA256, KeyInfo
    with `certificate`.

    Written as text, SignedInfo already in its exclusive C14N form (the bytes signed are the bytes
    sent), and signed with `cryptography` directly: libxmlsec1 costs about half a millisecond
    more a signature, and building the same tree with lxml to canonicalise it about 60 us more
    (scripts/bench_xml.py). The tests check every answer with libxmlsec1
    (tests/einvoice/hdon/test_answer.py) and that SignedInfo is its own canonical form.
    `signer`: `private_key`'s compiled signer (P-256), which signs faster than OpenSSL here."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        # XML Signature has no Ed25519 method that libxmlsec1 and the field's software share.
        raise TypeError("XML answers need an RSA or ECDSA (ES256) authority key")
    is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
    method = _RSA_SHA256 if is_rsa else _ECDSA_SHA256
    parts = [
        f'<SignedInfo xmlns="{DSIG}">'
        f'<CanonicalizationMethod Algorithm="{_EXC_C14N}"></CanonicalizationMethod>'
        f'<SignatureMethod Algorithm="{method}"></SignatureMethod>'
    ]
    for reference_id, digest in references:
        value = base64.b64encode(bytes.fromhex(digest)).decode()
        parts.append(
            f'<Reference URI="#{_c14n_attribute(reference_id)}"><Transforms>'
            f'<Transform Algorithm="{_EXC_C14N}"></Transform></Transforms>'
            f'<DigestMethod Algorithm="{_DIGEST}"></DigestMethod>'
            f"<DigestValue>{value}</DigestValue></Reference>"
        )
    parts.append("</SignedInfo>")
    signed = "".join(parts).encode()
    if isinstance(private_key, rsa.RSAPrivateKey):
        value_bytes = private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    elif signer is not None:
        value_bytes = signer.sign_message(signed)  # r and s, 32 bytes each
    else:
        # Randomised ECDSA: RFC 6979's deterministic signing costs about five times more here
        # (measured 2026-12-01), and a retry is answered with the stored bytes anyway.
        r, s = decode_dss_signature(private_key.sign(signed, ec.ECDSA(hashes.SHA256())))
        half = (private_key.curve.key_size + 7) // 8
        value_bytes = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return b"".join(
        (
            f'<Signature xmlns="{DSIG}">'.encode(),
            signed,
            b"<SignatureValue>",
            base64.b64encode(value_bytes),
            b"</SignatureValue><KeyInfo><X509Data><X509Certificate>",
            base64.b64encode(der),
            b"</X509Certificate></X509Data></KeyInfo></Signature>",
        )
    )


def _c14n_attribute(value: str) -> str:
    """An attribute value as C14N writes it (and as XML reads it back unchanged)."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#x9;")
        .replace("\n", "&#xA;")
        .replace("\r", "&#xD;")
    )


def element_digest(
    tag: str, prefix: str | None, namespace: str | None, attributes: dict[str, str], text: str
) -> str:
    """Hex SHA-256 of a text-only element in exclusive C14N as it will stand in a document where
    `namespace` is bound to `prefix` (None: the default namespace) or no namespace at all."""
    if namespace is None:
        standalone = etree.Element(tag, attributes)
    else:
        standalone = etree.Element(f"{{{namespace}}}{tag}", attributes, nsmap={prefix: namespace})  # type: ignore[dict-item]
    standalone.text = text
    canonical = etree.tostring(standalone, method="c14n", exclusive=True, with_comments=False)
    return hashlib.sha256(canonical).hexdigest()
