"""The JSON schemas of request bodies, as each feature declares them next to the code that
reads them (its ``SCHEMAS``, which ``timebank.api`` gathers into the OpenAPI document)."""

from __future__ import annotations

from typing import Any

ID: dict[str, Any] = {"$ref": "#/components/schemas/Id"}


def body(required: list[str], **properties: Any) -> dict[str, Any]:
    """A JSON object of ``properties``, of which the ``required`` ones must be sent."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def an_id(description: str) -> dict[str, Any]:
    """A record's id, described (OpenAPI 3.0 ignores the siblings of a ``$ref``)."""
    return {"allOf": [ID], "description": description}
