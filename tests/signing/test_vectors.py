"""The integrators' test vectors (examples/vectors/, docs/integration.md) are what this code makes:
the canonical bytes, hash and signatures of the invoice and the notice, the token and its key
set. The example clients in three languages reproduce the same files byte for byte; if this test
fails, the protocol changed (or the vectors were edited by hand): run scripts/make_vectors.py and
say so in the change."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import orjson
import pytest
import rfc8785
from jwcrypto import jwk, jws, jwt

from einvoice.config import PROJECT_ROOT
from einvoice.notice import notice_id
from signing.canonical import canonical_invoice_bytes, invoice_hash
from signing.seller import SellerKey, verify_seller_signature

VECTORS = PROJECT_ROOT / "examples" / "vectors"
sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import make_vectors  # noqa: E402  (the generator, beside the scripts)


def _read(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def _json(name: str) -> Any:
    return orjson.loads(_read(name))


def test_the_files_are_what_the_generator_writes_now() -> None:
    expected = make_vectors.vectors(VECTORS)

    assert sorted(path.name for path in VECTORS.iterdir() if path.name != "README.md") == sorted(
        expected
    )
    for name, data in expected.items():
        assert _read(name) == data, f"{name} differs: the protocol changed, or it was edited"


def test_the_canonical_bytes_are_rfc_8785_and_hash_to_the_published_hash() -> None:
    invoice = _json("invoice.json")
    canonical = _read("invoice.canonical.json")

    assert canonical == canonical_invoice_bytes(invoice)
    assert canonical == rfc8785.dumps(invoice)  # the reference implementation agrees
    assert _read("invoice.sha256").decode().strip() == invoice_hash(canonical)


@pytest.mark.parametrize(("name", "alg"), [("ed25519", "EdDSA"), ("rs256", "RS256")])
def test_the_sellers_signatures_verify_here_and_in_another_jose_library(
    name: str, alg: str
) -> None:
    public = _json(f"seller-{name}.jwk.json")
    signature = _read(f"invoice.signature-{name}.jws").decode().strip()
    canonical = _read("invoice.canonical.json")
    key = SellerKey(
        kid=public["kid"],
        tax_code=make_vectors.SELLER_TAX_CODE,
        algorithm=alg,
        public_key=jwk.JWK(**public).get_op_key("verify"),
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )

    problems = verify_seller_signature(
        signature,
        canonical,
        seller_tax_code=make_vectors.SELLER_TAX_CODE,
        issued=dt.date(2026, 11, 30),
        keys={key.kid: key},
        now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    other = jws.JWS()
    other.deserialize(signature)
    other.verify(jwk.JWK(**public), detached_payload=canonical)

    assert problems == []
    assert other.jose_header["kid"] == public["kid"]


def test_the_token_verifies_with_the_published_keys_and_carries_the_claims() -> None:
    keys = jwk.JWKSet.from_json(_read("authority.jwks.json"))
    claims = _json("token.claims.json")

    token = jwt.JWT(
        jwt=_read("token.jws").decode().strip(),
        key=keys,
        algs=["ES256"],
        check_claims={"iss": "https://einvoice.gdt.gov.vn"},
    )

    assert orjson.loads(token.claims) == claims
    assert claims["invoice_hash"] == _read("invoice.sha256").decode().strip()
    assert "exp" not in claims  # docs/signing.md: a token proves a fact that stays true


def test_the_notice_has_its_canonical_bytes_id_and_signature() -> None:
    notice = _json("notice.json")
    canonical = _read("notice.canonical.json")
    notice_hash = invoice_hash(canonical)
    public = _json("seller-ed25519.jwk.json")
    signature = _read("notice.signature-ed25519.jws").decode().strip()
    verified = jws.JWS()
    verified.deserialize(signature)

    verified.verify(jwk.JWK(**public), detached_payload=canonical)
    assert canonical == canonical_invoice_bytes(notice)
    assert _read("notice.sha256").decode().strip() == notice_hash
    assert _read("notice.id").decode().strip() == str(
        notice_id(make_vectors.SELLER_TAX_CODE, notice_hash)
    )


def test_the_vectors_are_described() -> None:
    readme = _read("README.md").decode()

    for name in make_vectors.vectors(VECTORS):
        assert f"`{name}`" in readme, f"examples/vectors/README.md does not describe {name}"
