"""The error answers of the JSON API as OpenAPI ``responses``: every one is ``application/problem+json``.

Routers declare the codes their routes can answer with, so the schema a client (or a fuzzer) reads says
what really comes back — including that a 422 is a problem document, not FastAPI's default body.
"""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem, or about:blank"},
        "title": {"type": "string", "description": "a short Chinese summary"},
        "status": {"type": "integer", "description": "the HTTP status code"},
        "detail": {"type": "string", "description": "what went wrong and what to change, in Chinese"},
        "errors": {
            "type": "array",
            "description": "one entry per rejected field (field, message) or spreadsheet cell (row, column, message)",
            "items": {"type": "object"},
        },
    },
}

DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be parsed (not UTF-8 JSON, or a broken multipart form)",
    401: "Not signed in, or the token is invalid or expired",
    403: "Signed in, but the role or township scope does not allow this (or a cookie request lacks its CSRF token)",
    404: "No such item, or it lies outside the caller's township scope",
    409: "The item changed meanwhile (stale version) or its state does not allow this action",
    413: "The request body or the uploaded file is too large",
    415: "The uploaded file is of a type that is not accepted",
    422: "The input is invalid; `errors` names each field and what to change",
    429: "Too many failed sign-ins for this username; retry after Retry-After seconds",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these status codes, each a problem+json document."""
    return {
        code: {"description": DESCRIPTIONS[code], "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}
        for code in codes
    }


READ = problems(401, 403, 404, 422)
"""What any signed-in route can answer besides success."""
WRITE = problems(400, 409, 413)
"""Added for a route that takes a request body and changes state."""
UPLOAD = problems(400, 413, 415)
"""Added for a route that takes a multipart file upload."""
