"""The OpenAPI document: the event, plan, subscription and token bodies described from their pydantic
models (their routes read the raw body themselves, to enforce the size limit and report errors in
both languages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from events.models import event_adapter
from events.plan import Plan
from services.api.routers.tokens import TokenRequest
from services.notify import SubscriptionRequest


def document_bodies(app: FastAPI) -> None:
    """Describe the event, plan, subscription and token bodies in the OpenAPI document (their routes read
    the raw body themselves, to enforce the size limit and report errors in both languages)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        schema = event_adapter.json_schema(ref_template="#/components/schemas/{model}")
        definitions = schema.pop("$defs", {})
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        document["components"]["schemas"]["Event"] = schema
        event = {"$ref": "#/components/schemas/Event"}
        body = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            event,
                            {"type": "array", "items": event, "minItems": 1, "maxItems": 1000},
                            {
                                "type": "object",
                                "required": ["events"],
                                "properties": {
                                    "events": {"type": "array", "items": event, "minItems": 1, "maxItems": 1000},
                                    "expected_versions": {
                                        "type": "object",
                                        "additionalProperties": {"type": "integer", "minimum": 0},
                                    },
                                },
                            },
                        ]
                    }
                }
            },
        }
        document["paths"]["/v1/plans/{plan}/events"]["post"]["requestBody"] = body
        plan_schema = Plan.model_json_schema(ref_template="#/components/schemas/{model}")
        document["components"]["schemas"].update(plan_schema.pop("$defs", {}))
        document["components"]["schemas"]["Plan"] = plan_schema
        document["paths"]["/v1/plans/{plan}"]["put"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Plan"}}},
        }
        for path, model in (("/v1/subscriptions", SubscriptionRequest), ("/v1/tokens", TokenRequest)):
            _document_body(document, path, model)  # the route reads its body itself (read_json)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _document_body(document: dict[str, Any], path: str, model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    document["components"]["schemas"].update(schema.pop("$defs", {}))
    document["components"]["schemas"][model.__name__] = schema
    document["paths"][path]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }
