"""Type stubs of the compiled core (core/src/lib.rs)."""

from collections.abc import Callable, Mapping
from typing import Any

class CompiledKey:
    def __init__(
        self,
        tax_code: str,
        algorithm: str,
        public: bytes,
        exponent: bytes | None,
        valid_from: int,
        valid_to: int | None,
        revoked_at: float | None,
    ) -> None: ...

class TokenSigner:
    def __init__(self, header_b64: bytes, private_scalar: bytes, public_point: bytes) -> None: ...
    def sign_token(self, claims: bytes) -> str: ...
    def sign_message(self, message: bytes) -> bytes: ...

def authenticate(
    invoice: Any,
    signature: Any,
    keys_for_seller: Callable[[str], Mapping[str, Any]],
    signer: TokenSigner,
    issuer: str,
    code_prefix: str,
    now: float,
) -> tuple[bytes, str, str, bool, str] | None: ...
def check_invoice(invoice: Any, now: float) -> bytes | None: ...

# The JSON pointer of the first repeated member name (I-JSON), or None; ValueError when `data` is
# not JSON or nests deeper than 64 levels (signing/strict_json.py).
def first_duplicate_member(data: bytes) -> str | None: ...

# The rules' field tables: {object: {member: (required, nullable, kind, parameters)}}.
def field_tables() -> dict[str, dict[str, tuple[bool, bool, str, tuple[int | str, ...]]]]: ...

# The compiled reader of an HDon's DLHDon (core/src/hdon.rs), built from the field table:
# [(key, in_totals, element path, repeated, [(name, element path, kind)])].
class DataReader:
    def __init__(
        self,
        table: list[tuple[str | None, bool, list[str], bool, list[tuple[str, list[str], str]]]],
    ) -> None: ...
    def read(self, canonical: bytes, namespace: str | None) -> dict[str, Any] | None: ...
