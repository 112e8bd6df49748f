"""Error answers in the OpenAPI description: every 4xx of the API is `{"detail": "..."}`.

FastAPI documents its own 422 body (a list of pydantic errors) while the app answers a single
string (api/app.py); clients and schemathesis read the description, so it must say what is sent.
Applied once, to whatever routes exist when the description is first asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "What was wrong, naming the field"}},
}
_REF = {"$ref": "#/components/schemas/Error"}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REF}}}


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Document the error answers of every operation in an OpenAPI dict (changed in place)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses["422"] = _error("Malformed request: the detail names the field")
            if operation.get("security"):
                responses.setdefault("401", _error("Missing or wrong bearer token"))
            if "requestBody" in operation:
                responses.setdefault("413", _error("Request body over max_request_bytes"))
            if "{" in path:
                responses.setdefault("404", _error("No such resource, or one the caller may not see"))
            # Any other 4xx (400 bad filter, 409 ambiguous id, ...) has the same body.
            responses.setdefault("4XX", _error("Request refused"))
    schemas = schema["components"]["schemas"]
    # FastAPI's own validation bodies are no longer referenced once 422 is ours.
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f"/{unused}'" not in text:
            del schemas[unused]
    return schema


def install(app: FastAPI) -> None:
    """Replace `app.openapi` by one that documents the error answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
