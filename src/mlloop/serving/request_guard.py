"""An ASGI middleware that refuses what the request models never see: a body that is not
JSON (415), one without a declared length (411) and one over the size limit (413). Without
it, a malformed multipart Content-Type reaches the framework's form parser and answers 500.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_MEDIA_TYPE = "application/json"


class RequestGuard:
    """Check the method, media type and length of POSTs to `paths` before the app reads them."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], max_body_bytes: int) -> None:
        self.app = app
        self.paths = paths
        self.max_body_bytes = max_body_bytes

    def _problem(self, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != JSON_MEDIA_TYPE:
            return 415, "unsupported_media_type", f"Content-Type must be {JSON_MEDIA_TYPE}", media_type
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            return 411, "length_required", "a Content-Length header is required", length or ""
        if int(length) > self.max_body_bytes:
            return 413, "body_too_large", f"the body may be at most {self.max_body_bytes} bytes", length
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a refused request here; pass every other one on untouched."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        problem = self._problem(headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, kind, message, value = problem
        body = json.dumps(
            {"error": message, "detail": [{"type": kind, "loc": ["header"], "msg": message, "input": value}]}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
