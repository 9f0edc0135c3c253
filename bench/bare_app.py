"""The baseline of ``bench/read_path.py``: Litestar doing nothing but answer.

One ``GET`` route at the real app's ``…/schemas/{id}`` path answers, without authentication
or any check, the exact body bytes and headers the real app answered once (captured into a
JSON file named by ``BENCH_BARE_RESPONSE``). The difference between the two servers is then
the registry's own work: authentication, the role guard, the read-model query, encoding.
``/health`` exists only because the bench waits for it before loading the server.

    BENCH_BARE_RESPONSE=captured.json granian --interface asgi --factory bench.bare_app:create
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from litestar import Litestar, Response, get

RESPONSE_ENV = "BENCH_BARE_RESPONSE"
PATH = "/internal/v1/connector/universal/schemas/{id:str}"


def create() -> Litestar:
    """The app, answering what the file named by ``BENCH_BARE_RESPONSE`` holds.

    The file is JSON: ``{"body": <base64>, "headers": {name: value}}``; ``content-type`` is
    among the headers and becomes the media type, so Litestar sends the bytes unchanged.
    """
    captured = json.loads(Path(os.environ[RESPONSE_ENV]).read_text())
    body: bytes = base64.b64decode(captured["body"])
    headers: dict[str, str] = dict(captured["headers"])
    media_type = headers.pop("content-type")

    @get(PATH)
    async def schema(id: str) -> Response[bytes]:
        return Response(body, media_type=media_type, headers=headers)

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[schema, health], openapi_config=None, debug=False)
