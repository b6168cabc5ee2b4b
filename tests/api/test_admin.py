"""The admin API and authentication, served by a real process against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from einvoice.config import Settings
from einvoice.registry import admin
from signing import jws
from storage.postgres.pool import create_pool
from storage.postgres.registry import Registry
from tests.einvoice.registry.test_registry_storage import fresh_tax_code
from tests.signing.keys import private_key


async def _issue(settings: Settings, role: str, tax_code: str | None = None) -> admin.IssuedClient:
    pool = await create_pool(settings)
    try:
        registry = Registry(pool)
        if tax_code is not None:
            await admin.add_taxpayer(registry, tax_code, "Công ty Kiểm thử")
        return await admin.add_client(registry, role, tax_code)
    finally:
        await pool.close()


@pytest.fixture
async def as_admin(settings: Settings, service_url: str) -> AsyncIterator[httpx.AsyncClient]:
    issued = await _issue(settings, "admin")
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    async with httpx.AsyncClient(base_url=service_url, headers=headers, timeout=30) as client:
        yield client


def _codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


async def test_an_admin_registers_a_taxpayer_a_key_and_a_client(
    as_admin: httpx.AsyncClient,
) -> None:
    tax_code = fresh_tax_code()
    public_pem = (
        private_key("RS256")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    taxpayer = await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "A"})
    key = await as_admin.post(
        f"/v1/admin/taxpayers/{tax_code}/keys",
        json={"kid": "k-2025", "public_key": public_pem, "valid_from": "2025-01-01T00:00:00+07:00"},
    )
    client = await as_admin.post(
        "/v1/admin/clients", json={"role": "business", "tax_code": tax_code}
    )
    revoked = await as_admin.post(f"/v1/admin/taxpayers/{tax_code}/keys/k-2025/revoke")
    suspended = await as_admin.patch(
        f"/v1/admin/taxpayers/{tax_code}", json={"status": "suspended"}
    )

    assert taxpayer.status_code == 201, taxpayer.text
    assert taxpayer.json()["status"] == "active"
    assert key.status_code == 201, key.text
    assert key.json()["algorithm"] == "RS256"
    assert key.json()["public_jwk"] == jws.public_jwk(private_key("RS256").public_key())
    assert client.status_code == 201
    assert client.json()["api_key"].startswith("einv_")
    assert revoked.json()["revoked_at"] is not None
    assert suspended.json()["status"] == "suspended"


async def test_a_new_business_key_works_at_once_and_stops_when_revoked(
    as_admin: httpx.AsyncClient, service_url: str
) -> None:
    tax_code = fresh_tax_code()
    await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "B"})
    issued = (
        await as_admin.post("/v1/admin/clients", json={"role": "business", "tax_code": tax_code})
    ).json()
    headers = {"Authorization": f"Bearer {issued['api_key']}"}

    async with httpx.AsyncClient(base_url=service_url, headers=headers) as business:
        before = await business.post(
            "/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "x"}
        )
        await as_admin.post(f"/v1/admin/clients/{issued['id']}/revoke")
        after = before
        for _ in range(50):  # the revocation reaches the process by notification
            after = await business.post(
                "/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "x"}
            )
            if after.status_code == 401:
                break
            await asyncio.sleep(0.1)

    assert before.status_code == 403  # authenticated, but a business is no admin
    assert _codes(before) == ["ROLE_FORBIDDEN"]
    assert after.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-key",
        f"Bearer einv_{uuid.uuid4().hex}_{'A' * 43}",
    ],
)
async def test_every_kind_of_wrong_key_gets_the_same_401(
    http: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await http.post("/v1/admin/taxpayers", json={}, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="einvoice"'
    body = response.json()
    assert body.pop("request_id") == response.headers["X-Request-ID"]
    assert body == {
        "errors": [
            {
                "code": "UNAUTHENTICATED",
                "message": "a valid API key is required: Authorization: Bearer <api key>",
            }
        ]
    }


async def test_a_wrong_secret_for_a_real_client_gets_the_same_401(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    issued = await _issue(settings, "admin")
    forged = issued.api_key[:-4] + ("AAAA" if not issued.api_key.endswith("AAAA") else "BBBB")

    response = await http.post(
        "/v1/admin/taxpayers", json={}, headers={"Authorization": f"Bearer {forged}"}
    )

    assert response.status_code == 401
    assert _codes(response) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [
        ("/v1/admin/taxpayers", {"tax_code": "0100233487", "name": "x"}, 422, "TAX_CODE_CHECK_DIGIT", "/tax_code"),
        ("/v1/admin/taxpayers", {"tax_code": "12", "name": "x"}, 422, "TAX_CODE_FORMAT", "/tax_code"),
        ("/v1/admin/taxpayers", {"tax_code": "0100233488"}, 422, "FIELD_REQUIRED", "/name"),
        ("/v1/admin/taxpayers", {"tax_code": "0100233488", "name": "x", "x": 1}, 422, "INVALID_FIELD", "/x"),
        ("/v1/admin/clients", {"role": "business"}, 422, "CLIENT_TAX_CODE_REQUIRED", "/tax_code"),
        ("/v1/admin/clients", {"role": "officer", "tax_code": "0100233488"}, 422, "CLIENT_TAX_CODE_UNEXPECTED", "/tax_code"),
        ("/v1/admin/clients", {"role": "root"}, 422, "INVALID_FIELD", "/role"),
        ("/v1/admin/clients", {"role": "business", "tax_code": "0107001729"}, 404, "TAXPAYER_NOT_FOUND", "/tax_code"),
        ("/v1/admin/clients/not-a-uuid/revoke", None, 422, "INVALID_FIELD", "/id"),
        (f"/v1/admin/clients/{uuid.uuid4()}/revoke", None, 404, "CLIENT_NOT_FOUND", None),
        ("/v1/admin/taxpayers/0302431595/keys/nope/revoke", None, 404, "KEY_NOT_FOUND", None),
    ],
)  # fmt: skip
async def test_admin_errors_have_stable_codes_and_fields(
    as_admin: httpx.AsyncClient,
    path: str,
    body: dict[str, object] | None,
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = (
        await as_admin.post(path, json=body) if body is not None else await as_admin.post(path)
    )

    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == code
    assert error.get("field") == field


async def test_weak_malformed_and_private_keys_are_refused(as_admin: httpx.AsyncClient) -> None:
    tax_code = fresh_tax_code()
    await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "C"})
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    weak_pem = (
        weak.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_jwk = {**jws.public_jwk(private_key("ES256").public_key()), "d": "AAAA"}

    codes = []
    for material in (weak_pem, "garbage", private_jwk):
        response = await as_admin.post(
            f"/v1/admin/taxpayers/{tax_code}/keys", json={"kid": "k", "public_key": material}
        )
        assert response.status_code == 422
        codes += _codes(response)

    assert codes == ["KEY_TOO_WEAK", "KEY_MALFORMED", "KEY_PRIVATE_MATERIAL"]


async def test_a_jwk_contradicting_the_registration_is_refused_and_ed25519_is_eddsa(
    as_admin: httpx.AsyncClient,
) -> None:
    tax_code = fresh_tax_code()
    await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "J"})
    keys = f"/v1/admin/taxpayers/{tax_code}/keys"
    rsa_jwk = jws.public_jwk(private_key("PS256").public_key())
    ed_jwk = jws.public_jwk(private_key("EdDSA").public_key())

    as_ps256 = await as_admin.post(
        keys, json={"kid": "k1", "public_key": {**rsa_jwk, "alg": "RS256"}, "algorithm": "PS256"}
    )
    for_encryption = await as_admin.post(
        keys, json={"kid": "k1", "public_key": {**rsa_jwk, "use": "enc"}}
    )
    other_kid = await as_admin.post(
        keys, json={"kid": "k1", "public_key": {**rsa_jwk, "kid": "k9"}}
    )
    ed25519 = await as_admin.post(
        keys, json={"kid": "k1", "public_key": {**ed_jwk, "alg": "Ed25519"}, "algorithm": "Ed25519"}
    )

    refused = [as_ps256, for_encryption, other_kid]
    assert [response.status_code for response in refused] == [422, 422, 422]
    assert [response.json()["errors"][0]["field"] for response in refused] == [
        "/public_key/alg",
        "/public_key/use",
        "/public_key/kid",
    ]
    assert {code for response in refused for code in _codes(response)} == {
        "KEY_CONTRADICTS_REGISTRATION"
    }
    assert ed25519.status_code == 201, ed25519.text
    assert ed25519.json()["algorithm"] == "EdDSA"


async def test_a_duplicate_taxpayer_is_a_conflict(as_admin: httpx.AsyncClient) -> None:
    tax_code = fresh_tax_code()
    first = await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "D"})
    again = await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "D"})

    assert first.status_code == 201
    assert again.status_code == 409
    assert _codes(again) == ["TAXPAYER_EXISTS"]


async def test_over_the_rate_limit_gets_429_with_retry_after(as_admin: httpx.AsyncClient) -> None:
    # The admin limit is 20/s with bursts of 50: 150 requests at once cannot all pass.
    responses = await asyncio.gather(
        *(as_admin.post("/v1/admin/clients/not-a-uuid/revoke") for _ in range(150))
    )

    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert _codes(limited[0]) == ["RATE_LIMITED"]


async def test_officers_cannot_administer(settings: Settings, http: httpx.AsyncClient) -> None:
    officer = await _issue(settings, "officer")

    response = await http.post(
        "/v1/admin/taxpayers",
        json={"tax_code": fresh_tax_code(), "name": "x"},
        headers={"Authorization": f"Bearer {officer.api_key}"},
    )

    assert response.status_code == 403
    assert _codes(response) == ["ROLE_FORBIDDEN"]


async def test_a_body_that_is_not_json_is_a_400(as_admin: httpx.AsyncClient) -> None:
    response = await as_admin.post(
        "/v1/admin/taxpayers",
        content=b'{"tax_code": ',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert _codes(response) == ["MALFORMED_JSON"]


async def test_a_taxpayer_change_needs_something_to_change(as_admin: httpx.AsyncClient) -> None:
    tax_code = fresh_tax_code()
    await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "E"})

    empty = await as_admin.patch(f"/v1/admin/taxpayers/{tax_code}", json={})
    buckets = await as_admin.patch(f"/v1/admin/taxpayers/{tax_code}", json={"month_buckets": 8})

    assert empty.status_code == 422
    assert _codes(empty) == ["FIELD_REQUIRED"]
    assert buckets.json()["month_buckets"] == 8
    assert buckets.json()["status"] == "active"


async def test_a_certificate_is_registered_as_a_key_and_read_back(
    settings: Settings, as_admin: httpx.AsyncClient
) -> None:
    from cryptography.hazmat.primitives import serialization as encoding

    from einvoice.registry.cache import RegistryCache
    from tests.einvoice.hdon.support import certificate as make_certificate
    from tests.einvoice.hdon.support import private_key as make_private_key

    tax_code = fresh_tax_code()
    await as_admin.post("/v1/admin/taxpayers", json={"tax_code": tax_code, "name": "E"})
    seller_key = make_private_key("rsa")
    cert = make_certificate(seller_key)
    pem = cert.public_bytes(encoding.Encoding.PEM).decode()
    url = f"/v1/admin/taxpayers/{tax_code}/keys"

    added = await as_admin.post(url, json={"kid": "cert-2026", "certificate": pem})
    again = await as_admin.post(url, json={"kid": "cert-again", "certificate": pem})
    neither = await as_admin.post(url, json={"kid": "k"})
    both = await as_admin.post(url, json={"kid": "k", "certificate": pem, "public_key": pem})
    garbage = await as_admin.post(url, json={"kid": "k", "certificate": "-----BEGIN CERT"})

    assert added.status_code == 201, added.text
    body = added.json()
    assert body["algorithm"] == "RS256"
    assert body["certificate"] == pem
    assert body["valid_from"] == cert.not_valid_before_utc.isoformat()
    assert body["valid_to"] == cert.not_valid_after_utc.isoformat()
    assert (again.status_code, _codes(again)) == (409, ["CERTIFICATE_EXISTS"])
    for refused in (neither, both, garbage):
        assert (refused.status_code, _codes(refused)) == (422, ["CERTIFICATE_MALFORMED"])

    pool = await create_pool(settings)
    try:
        seller = await RegistryCache(Registry(pool)).seller(tax_code)
    finally:
        await pool.close()
    assert seller is not None
    (registered,) = seller.certificates.values()
    assert registered.fingerprint == body["certificate_sha256"]
    assert registered.kid == "cert-2026"
    assert "cert-2026" in seller.keys  # the same key verifies the seller's JWS too
