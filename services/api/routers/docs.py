"""The inbox's AsyncAPI document (the OpenAPI document is FastAPI's own)."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter

from services.api.deps import AppDep
from services.inbox import asyncapi_document

router = APIRouter(tags=["docs"])

# Static per keyspace; building it assembles a whole FastStream app, so once is enough.
_asyncapi_document = functools.cache(asyncapi_document)


@router.get("/asyncapi.json")
async def asyncapi(app: AppDep) -> dict[str, Any]:
    """AsyncAPI 3.0 document of the departments' inbox stream."""
    return _asyncapi_document(app.keys)
