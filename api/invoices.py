"""Real-time authentication: POST /v1/invoices, and the authority's public keys.

The answer comes once the invoice is durably stored (the writes reached LOCAL_QUORUM). A retry of
the same invoice gets the original answer with 200; another invoice under a used number gets 409
naming the original. The route only reads the request; the use case (einvoice/submission.py)
decides everything else. See storage/cassandra/invoices.py for why a crash at any point is safe.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import Principal, allow
from api.body import read_body
from api.deps import ClientsDep
from api.openapi import WITH_BODY, answer, operation
from api.schemas import Jwks, SubmissionAnswer
from einvoice.error_codes import ErrorCode
from einvoice.errors import (
    InvalidRequest,
    MalformedJson,
    UnsupportedMediaType,
)
from einvoice.request_members import request_members
from signing import strict_json

router = APIRouter(tags=["invoices"])

MAX_BODY_BYTES = 2 * 1024 * 1024  # the national format's message limit

SubmitterDep = Annotated[Principal, Depends(allow("business", kind="submit"))]


@router.get(
    "/.well-known/jwks.json",
    tags=["public"],
    **operation(
        "The authority's public keys",
        authenticated=False,
        answers={200: answer("A JWK set (RFC 7517)", Jwks, media_type="application/jwk-set+json")},
    ),
)
async def jwks(clients: ClientsDep) -> Response:
    """The keys that verify authority tokens offline (`kid` in the token's header), retired keys
    included, so every token issued in ten years still verifies."""
    return Response(
        orjson.dumps(clients.authority.keyring.jwks()),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


# The national format's media types: `text/xml` too, which some accounting software sends.
XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})


_SUBMISSION_BODY = {
    "required": True,
    "description": "The invoice as JSON with the seller's detached JWS, or one HDon (the national "
    "XML, signed with XML Signature) as application/xml or text/xml. At most 2 MiB.",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Submission"}},
        "application/xml": {"schema": {"type": "string", "description": "One signed HDon."}},
        "text/xml": {"schema": {"type": "string", "description": "One signed HDon."}},
    },
}
_HDON = {"type": "string", "description": "The HDon with MCCQT and the authority's signature."}


def _submission_answer(description: str) -> dict[str, Any]:
    documented = answer(description, SubmissionAnswer)
    documented["content"] = {"application/xml": {"schema": _HDON}}
    return documented


@router.post(
    "/v1/invoices",
    status_code=201,
    **operation(
        "Authenticate one invoice in real time",
        body=_SUBMISSION_BODY,
        answers={
            201: _submission_answer(
                "Authenticated now: the code and the authority's token (an HDon: the coded HDon, "
                "the same fields as X-Invoice-* headers)"
            ),
            200: _submission_answer("The same invoice again: its original answer"),
        },
        errors=(*WITH_BODY, 409),
    ),
)
async def submit(request: Request, principal: SubmitterDep, clients: ClientsDep) -> Response:
    """Role `business`: the seller's own invoices. Checks structure, the Vietnamese rules and the
    seller's signature against its registered keys, then issues the authority code, signs,
    stores durably and answers. Safe to retry: the same invoice gets its original answer (200);
    another invoice under a used number gets 409 naming the holder; a replacement or adjustment
    (`original`) gets 409 when its original was replaced or cancelled (docs/lifecycle.md)."""
    assert principal.tax_code is not None  # a business client always has one
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in XML_MEDIA_TYPES:
        # An HDon (docs/invoice-format.md, "The national XML"): the answer is the coded HDon.
        body = await read_body(request, MAX_BODY_BYTES, f"at most {MAX_BODY_BYTES} bytes")
        answer = await clients.submissions.submit_xml(
            tax_code=principal.tax_code, body=body, now=dt.datetime.now(dt.UTC)
        )
    elif media_type == "application/json":
        submission = await read_json(request)
        raw_invoice, signature = _split_submission(submission)
        answer = await clients.submissions.submit(
            tax_code=principal.tax_code,
            raw_invoice=raw_invoice,
            signature=signature,
            now=dt.datetime.now(dt.UTC),
        )
    else:
        raise UnsupportedMediaType(
            "send the submission as application/json, or an HDon as application/xml"
        )
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.media_type,
        headers=answer.headers or None,
    )


async def read_json(request: Request) -> Any:
    """A JSON body of at most MAX_BODY_BYTES, read strictly (docs/signing.md)."""
    body = await read_body(request, MAX_BODY_BYTES, f"at most {MAX_BODY_BYTES} bytes")
    try:
        # Refused: what orjson refuses (invalid UTF-8, lone surrogates), nesting deeper than 64
        # levels, and any object repeating a member name (docs/signing.md, "Strict JSON").
        return strict_json.loads(body)
    except strict_json.DuplicateMember as error:
        raise InvalidRequest(
            str(error), code=ErrorCode.DUPLICATE_MEMBER, field=error.pointer
        ) from error
    except strict_json.NotJson as error:
        raise MalformedJson(f"the body is not valid JSON: {error}") from error


def _split_submission(submission: Any) -> tuple[Any, Any]:
    raw_invoice, signature = request_members(submission, ("invoice", "signature"), "a submission")
    return raw_invoice, signature
