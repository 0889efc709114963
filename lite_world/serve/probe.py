"""Raw-socket probes of a service: hostile bytes in; the answer and when it closed out.

The fault suite (``tests/serve``) and ``benchmarks/bench_serve_faults.py`` use these to send what
an HTTP client library would refuse to: lying Content-Lengths, stalled uploads, oversized
headers, garbage. Every read has a deadline, so a probe cannot hang.

Example:
    >>> request_bytes("POST", "/search", b"{}", content_length=10)[:22]
    b'POST /search HTTP/1.1\\r'
    >>> a = Answer(b'HTTP/1.1 408 Request Timeout\\r\\ncontent-type: application/json\\r\\n\\r\\n'
    ...            b'{"error":{"code":"body_timeout","field":"body","message":"Expects ..."}}', 1.0)
    >>> a.status, is_json_error(a)
    (408, True)
    >>> exchange("127.0.0.1", 8000, b"GET /health HTTP/1.1\\r\\n\\r\\n").status   # doctest: +SKIP
    400
"""

from __future__ import annotations

__all__ = ["Answer", "exchange", "is_json_error", "request_bytes"]

import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    """What a server sent on one connection before it closed it (or before the deadline)."""

    raw: bytes
    closed_after_s: float | None  # None: still open at the deadline

    @property
    def status(self) -> int | None:
        head = self.raw.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) >= 2 and head[1].isdigit() else None

    @property
    def headers(self) -> dict[str, str]:
        lines = self.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
        return {
            k.strip().lower().decode("latin-1"): v.strip().decode("latin-1")
            for k, _, v in (line.partition(b":") for line in lines)
        }

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.raw else b""

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """One HTTP/1.1 request; ``content_length`` may lie about ``body``."""
    h = {
        "Host": "127.0.0.1",
        "Content-Type": "application/json",
        "Content-Length": str(len(body) if content_length is None else content_length),
    }
    if token:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("latin-1") + body


def exchange(
    host: str,
    port: int,
    parts: list[bytes] | bytes,
    *,
    deadline_s: float = 15.0,
    gap_s: float = 0.0,
    half_close: bool = False,
) -> Answer:
    """Send ``parts`` on a new connection, ``gap_s`` apart; read until closed or ``deadline_s``.

    A reset or a refused write counts as the server closing the connection; ``half_close`` shuts
    the sending side after the last part (a client that sent all it will send).
    """
    parts = [parts] if isinstance(parts, bytes) else parts
    out = bytearray()
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=deadline_s) as s:
        try:
            for i, p in enumerate(parts):
                if i and gap_s:
                    time.sleep(gap_s)
                if select.select([s], [], [], 0)[0]:
                    break  # the server answered (or closed) before the client was done: read it
                s.sendall(p)
            else:
                if half_close:
                    s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while the client was sending: read what it sent first
        while True:
            left = deadline_s - (time.monotonic() - t0)
            if left <= 0:
                return Answer(bytes(out), None)
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return Answer(bytes(out), None)
            except ConnectionResetError:
                return Answer(bytes(out), time.monotonic() - t0)
            if not chunk:
                return Answer(bytes(out), time.monotonic() - t0)
            out += chunk


def is_json_error(answer: Answer) -> bool:
    """A 4xx/5xx whose body is ``{"error": {"code": str, "message": str, ...}}``."""
    if answer.status is None or answer.status < 400:
        return False
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        err = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (
        isinstance(err.get("code"), str)
        and isinstance(err.get("message"), str)
        and bool(err["message"])
    )
