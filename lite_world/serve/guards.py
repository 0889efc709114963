"""Connection guards: no request may hold a connection longer than its deadlines allow.

uvicorn bounds header size (``h11_max_incomplete_event_size``), idle keep-alive connections
(``timeout_keep_alive``) and open connections (``limit_concurrency``); :func:`uvicorn_kwargs`
sets those from a :class:`ServeConfig`. Two guards are added where uvicorn has none:

- :func:`http_protocol`: uvicorn's h11 protocol with a deadline on a request's headers (a client
  that trickles a request line is answered 408 and closed), an idle deadline from the moment a
  connection opens, and JSON bodies on the 400s the HTTP layer sends itself.
- :class:`BodyGuard`: an ASGI middleware that reads each request body under a deadline and a
  size limit before the app runs (a stalled or truncated upload gets 408, a large one 413, and
  the connection is closed); a client that disconnects mid-upload is counted, not logged as an
  error. It also holds the header limit exactly (431): h11's bound applies to bytes buffered
  while a request is incomplete, so a header block that arrives in one read can pass it.

Example:
    >>> error_response(408, "body_timeout", "Expects the body within 1 s, actual: 3 bytes")[:28]
    b'HTTP/1.1 408 Request Timeout'
    >>> uvicorn_kwargs(ServeConfig())["h11_max_incomplete_event_size"]
    16384
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from lite_world._lazy import require
from lite_world.serve.backend import error_body
from lite_world.serve.config import ServeConfig

__all__ = ["BodyGuard", "error_response", "http_protocol", "uvicorn_kwargs"]

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def error_response(status: int, code: str, message: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response carrying the service's JSON error body."""
    body = error_body(code, None, message)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def uvicorn_kwargs(config: ServeConfig) -> dict[str, Any]:
    """The uvicorn settings that bound a connection: header size, idle time, concurrency."""
    return {
        "http": http_protocol(config.header_timeout_s, config.max_header_bytes),
        "h11_max_incomplete_event_size": config.max_header_bytes,
        "timeout_keep_alive": config.keep_alive_s,
        "limit_concurrency": config.max_connections,
    }


def http_protocol(header_timeout_s: float, max_header_bytes: int) -> type:
    """uvicorn's h11 protocol with a header deadline and JSON error bodies.

    Args:
        header_timeout_s: seconds from a request's first byte to its complete headers.
        max_header_bytes: the header limit, named in the 400 sent when it is passed.
    """
    h11_impl = require("uvicorn.protocols.http.h11_impl", extra="serve")

    class GuardedH11Protocol(h11_impl.H11Protocol):  # type: ignore[name-defined]
        """One connection; see :func:`http_protocol`."""

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            self._timed_cycle: Any = None
            # uvicorn arms its idle timer after a first answer: arm it for a silent connection
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            idle = self.cycle is None or self.cycle.response_complete
            if self._header_timer is not None and self.cycle is not self._timed_cycle:
                self._cancel_header_timer()  # a new request's headers arrived in time
            if idle and self._header_timer is None and not self.transport.is_closing():
                self._timed_cycle = self.cycle
                self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            idle = self.cycle is None or self.cycle.response_complete
            if self.cycle is self._timed_cycle and idle and not self.transport.is_closing():
                logger.info(
                    "closing a connection whose request headers took over %s s", header_timeout_s
                )
                self.transport.write(
                    error_response(
                        408,
                        "header_timeout",
                        f"Expects a request's headers within {header_timeout_s} s of its first "
                        "byte, actual: incomplete",
                    )
                )
                self.transport.close()

        def send_400_response(self, msg: str) -> None:
            self.logger.info("malformed request: %s", msg)
            self.transport.write(
                error_response(
                    400,
                    "bad_request",
                    f"Expects a well-formed HTTP/1.1 request with at most {max_header_bytes} "
                    "bytes of request line and "
                    f"headers, actual: a request the HTTP parser refused ({msg})",
                )
            )
            self.transport.close()

    return GuardedH11Protocol


class BodyGuard:
    """ASGI middleware: read the whole body under a deadline and a size limit, then run the app.

    Args:
        app: the ASGI app.
        max_body_bytes: a larger body (declared or sent) gets 413.
        max_header_bytes: a larger request line plus headers gets 431.
        body_timeout_s: a body not complete this many seconds after the headers gets 408.
        on_refused: called with ``(path, status)`` for each 408/413 sent here.
        on_disconnect: called with ``path`` when a client leaves before its body is complete.
    """

    def __init__(
        self,
        app: Any,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        max_header_bytes: int = 1 << 20,
        on_refused: Callable[[str, int], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
    ):
        self.app, self.max_body_bytes, self.body_timeout_s = app, max_body_bytes, body_timeout_s
        self.max_header_bytes = max_header_bytes
        self.on_refused = on_refused or (lambda path, status: None)
        self.on_disconnect = on_disconnect or (lambda path: None)

    async def _refuse(
        self,
        send: Send,
        scope: Scope,
        status: int,
        code: str,
        message: str,
        field: str | None = "body",
    ) -> None:
        self.on_refused(scope.get("path", ""), status)
        body = error_body(code, field, message)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._guard(scope, receive, tracked)
        except Exception:  # a bug below: the client still gets a JSON body, the log the trace
            logger.exception("%s failed", scope.get("path"))
            if not started:
                await self._refuse(
                    tracked,
                    scope,
                    500,
                    "internal",
                    "Expects no server error, actual: one (see the server log)",
                    None,
                )

    async def _guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers") or []
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
        head += sum(len(k) + len(v) + 4 for k, v in headers)
        if head > self.max_header_bytes:
            return await self._refuse(
                send,
                scope,
                431,
                "headers_too_large",
                f"Expects at most {self.max_header_bytes} bytes of request line and headers, "
                f"actual: about {head}",
                field="headers",
            )
        limit = self.max_body_bytes
        declared = dict(headers).get(b"content-length", b"")
        if (
            declared.isdigit() and len(declared) > 18
        ):  # int() refuses 4,300+ digits; any 19 is too many
            declared = b"9" * 18
        if declared.isdigit() and int(declared) > limit:
            return await self._refuse(
                send,
                scope,
                413,
                "body_too_large",
                f"Expects a body of at most {limit} bytes, actual: {int(declared)}",
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                logger.info(
                    "%s: body not complete after %s s (%d bytes); closing",
                    scope.get("path"),
                    self.body_timeout_s,
                    total,
                )
                return await self._refuse(
                    send,
                    scope,
                    408,
                    "body_timeout",
                    f"Expects the whole request body within {self.body_timeout_s} s, actual: "
                    f"{total} bytes"
                    + (f" of {int(declared)}" if declared.isdigit() else "")
                    + " by then",
                )
            if message["type"] == "http.disconnect":
                logger.debug(
                    "%s: client disconnected after %d body bytes", scope.get("path"), total
                )
                self.on_disconnect(scope.get("path", ""))
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                return await self._refuse(
                    send,
                    scope,
                    413,
                    "body_too_large",
                    f"Expects a body of at most {limit} bytes, actual: more",
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        await self.app(scope, replay, send)
