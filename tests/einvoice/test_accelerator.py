"""The service without the compiled core (einvoice/accelerator.py): the pure path gives the
compiled path's answers, and the whole app imports and runs where the core is not installed.

Both tests run a subprocess, so this process keeps its compiled core:
- a representative subset of the pure tests with EINVOICE_PURE=1 (the whole pure suite runs so by
  hand, docs/signing.md; running all of it here would double CI's time for the pure tests);
- an interpreter where `import einvoice_core` fails as it does where the core is not installed
  (EINVOICE_PURE left unset, so the absence alone chooses the pure path): it imports the app,
  authenticates the sample invoice and answers the same canonical bytes, hash and token claims as
  the compiled path here (ES256 signatures are randomised, and codes are random: the token's
  signature is checked instead, and the code's form).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from einvoice.accelerator import PURE_VARIABLE
from einvoice.config import PROJECT_ROOT
from einvoice.invoice.authenticate import Authenticated, Authority, authenticate
from einvoice.invoice.samples import sample_invoice
from signing.authority import AuthorityKeyRing, generate_private_key_pem
from signing.seller import sign_invoice
from tests.signing.keys import ISSUER, private_key, seller_key
from tests.support import compiled_core

# Every part the core accelerates, through its pure path: strict JSON, the seller's JWS, JSON and
# XML authentication, the XML answer's signature, the HDon reader. About a tenth of the pure
# tests' time.
PURE_SUBSET = [
    "tests/signing/test_strict_json.py",
    "tests/signing/test_strict_jws.py",
    "tests/signing/test_authority.py",
    "tests/einvoice/invoice/test_authenticate.py",
    "tests/einvoice/hdon/test_authenticate.py",
    "tests/einvoice/hdon/test_answer.py",
    "tests/einvoice/hdon/test_fields.py",
]


def _environment(**changes: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != PURE_VARIABLE}
    return {**environment, **changes}


def test_the_pure_path_passes_a_representative_subset_of_the_pure_tests() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PURE_SUBSET],
        cwd=PROJECT_ROOT,
        env=_environment(**{PURE_VARIABLE: "1"}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout[-5000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout.splitlines()[-1]


# Run as `python -c`: the core made unimportable before anything imports it, then the app and
# one authentication, the inputs on stdin and the answer on stdout, as JSON.
_WITHOUT_THE_CORE = """
import sys
sys.modules["einvoice_core"] = None  # what `import einvoice_core` meets where it is not installed

import datetime as dt
import json

import orjson
from cryptography.hazmat.primitives import serialization

import api.app
from einvoice.accelerator import implementation
from einvoice.invoice.authenticate import Authenticated, Authority, authenticate
from signing import strict_json
from signing.authority import AuthorityKeyRing
from signing.seller import SellerKey

given = json.load(sys.stdin)
api.app.create_app()
keyring = AuthorityKeyRing.from_pems({"cqt-1": given["authority"].encode()}, "cqt-1")
seller = SellerKey(
    kid=given["kid"],
    tax_code=given["tax_code"],
    algorithm="ES256",
    public_key=serialization.load_pem_public_key(given["seller"].encode()),
    valid_from=dt.datetime.fromisoformat(given["valid_from"]),
)
submission = strict_json.loads(given["body"].encode())
outcome = authenticate(
    submission["invoice"],
    submission["signature"],
    keys_for_seller=lambda _: {seller.kid: seller},
    authority=Authority(keyring, "00", given["issuer"]),
    now=dt.datetime.fromisoformat(given["now"]),
)
assert isinstance(outcome, Authenticated), outcome
try:
    strict_json.loads(b'{"invoice":{"a":1,"\\\\u0061":2}}')
    repeated = None
except strict_json.DuplicateMember as error:
    repeated = error.pointer
print(json.dumps({
    "implementation": implementation(),
    "compiled_signer": keyring.token_signer is not None,
    "core_loaded": sys.modules.get("einvoice_core") is not None,
    "canonical": outcome.canonical.decode(),
    "hash": outcome.invoice_hash,
    "code": outcome.code,
    "coded": outcome.coded,
    "token": outcome.token,
    "repeated": repeated,
}))
"""


@compiled_core
def test_without_the_core_the_app_imports_and_answers_as_the_compiled_path() -> None:
    now = dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC)
    authority_pem = generate_private_key_pem()
    keyring = AuthorityKeyRing.from_pems({"cqt-1": authority_pem}, "cqt-1")
    key = seller_key("ES256")
    invoice = sample_invoice()
    signature = sign_invoice(invoice, private_key("ES256"), kid=key.kid, alg="ES256")
    assert keyring.token_signer is not None  # here the compiled path answers
    compiled = authenticate(
        invoice,
        signature,
        keys_for_seller=lambda _: {key.kid: key},
        authority=Authority(keyring, "00", ISSUER),
        now=now,
    )
    assert isinstance(compiled, Authenticated)
    given = {
        "authority": authority_pem.decode(),
        "seller": key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "kid": key.kid,
        "tax_code": key.tax_code,
        "valid_from": key.valid_from.isoformat(),
        "issuer": ISSUER,
        "now": now.isoformat(),
        "body": json.dumps({"invoice": invoice, "signature": signature}),
    }

    finished = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_CORE],
        cwd=PROJECT_ROOT,
        env=_environment(),
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-5000:]
    pure = json.loads(finished.stdout)
    assert pure["implementation"] == "pure"
    assert not pure["compiled_signer"]
    assert not pure["core_loaded"]
    assert pure["canonical"].encode() == compiled.canonical
    assert pure["hash"] == compiled.invoice_hash
    assert pure["coded"] == compiled.coded
    assert pure["repeated"] == "/invoice/a"
    # The same header and claims, the code aside; signed by the authority's key.
    pure_claims = keyring.verify_token(pure["token"])
    compiled_claims = keyring.verify_token(compiled.token)
    assert pure_claims is not None
    assert compiled_claims is not None
    assert pure["token"].split(".")[0] == compiled.token.split(".")[0]
    assert list(pure_claims) == list(compiled_claims)  # the same members in the same order
    assert {**pure_claims, "code": None} == {**compiled_claims, "code": None}
    assert pure_claims["code"] == pure["code"]
    assert pure["code"][:2] == "00"
    assert len(pure["code"]) == len(compiled.code)


def test_the_switch_refuses_a_value_it_does_not_know() -> None:
    refused = subprocess.run(
        [sys.executable, "-c", "import einvoice.accelerator"],
        cwd=PROJECT_ROOT,
        env=_environment(**{PURE_VARIABLE: "yes"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert refused.returncode != 0
    assert "EINVOICE_PURE is 1 (the pure path) or 0 or unset, not 'yes'" in refused.stderr


@pytest.mark.parametrize("setting", ["1", "0"])
def test_the_switch_chooses_the_implementation(setting: str) -> None:
    code = "from einvoice.accelerator import implementation; print(implementation())"
    finished = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=_environment(**{PURE_VARIABLE: setting}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    installed = importlib.util.find_spec("einvoice_core") is not None
    expected = "compiled" if setting == "0" and installed else "pure"
    assert finished.stdout.strip() == expected
